package io.tierkv.tiering;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tierkv.core.Level;
import io.tierkv.tiering.copy.CopyFaults;
import org.junit.jupiter.api.Test;

class TierStatsTest {

    @Test
    void stats_countBothDirections_andSerialiseWithJackson() throws Exception {
        TierStats stats;
        try (TierManager m = TierManagerTest.manager(8, 8, CopyFaults.NONE)) {
            KvHarness h = new KvHarness(m, 8, Integer.MAX_VALUE);
            h.append(16);
            h.sequence.endPrefill();
            h.setBlock(0, 0, Level.LOW_CODE);
            h.setBlock(0, 1, Level.LOW_CODE);
            h.sequence.step();
            m.awaitCopies();
            h.setBlock(0, 1, Level.NORMAL_CODE);
            h.sequence.step();
            m.awaitCopies();
            stats = m.stats();
        }
        long slot = TierManagerTest.ONE_LAYER.blockBytes();
        assertEquals(2, stats.d2hBlocks());
        assertEquals(1, stats.d2hCopies(), "two neighbouring blocks went in one copy");
        assertEquals(2 * slot, stats.maxCopyBytes());
        assertEquals(1, stats.h2dBlocks());
        assertEquals(slot, stats.minCopyBytes());
        assertEquals(1, stats.copySizeHistogram()[0]);
        assertEquals(1, stats.copySizeHistogram()[1]);
        assertEquals(1.5 * slot, stats.meanCopyBytes(), 1e-9);
        assertEquals(3, stats.deviceBlocks());
        assertEquals(1, stats.hostBlocks());
        assertEquals(4, stats.deviceBlocksPeak());
        assertEquals(4 * slot, stats.deviceBytesPeak());
        assertEquals(3, stats.residency().size(), "end of prefill and two steps");

        ObjectMapper json = new ObjectMapper();
        String text = json.writeValueAsString(stats);
        JsonNode tree = json.readTree(text);
        assertEquals("cpu", tree.get("backend").asText());
        assertEquals(2, tree.get("d2hBlocks").asLong());
        assertEquals(3, tree.get("residency").size());
        TierStats back = json.readValue(text, TierStats.class);
        assertEquals(stats.residency(), back.residency());
        assertEquals(stats.summary(), back.summary());
    }
}

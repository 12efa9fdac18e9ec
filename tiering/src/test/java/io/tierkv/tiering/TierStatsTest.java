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
            KvHarness h = new KvHarness(m, 2, Integer.MAX_VALUE);
            h.append(16);
            // room for one placed block: 0 stays, 1 and 2 go to the host in one copy
            h.sequence.endPrefill();
            m.awaitCopies();
            h.sequence.step();
            m.awaitCopies();
            // a request makes block 2 worth more than block 0: they swap, one block each way
            h.request(0, 2, 1);
            h.sequence.step();
            m.awaitCopies();
            stats = m.stats();
        }
        long slot = TierManagerTest.ONE_LAYER.blockBytes();
        assertEquals(3, stats.d2hBlocks());
        assertEquals(2, stats.d2hCopies(), "two neighbouring blocks went in one copy");
        assertEquals(2 * slot, stats.maxCopyBytes());
        assertEquals(1, stats.h2dBlocks());
        assertEquals(slot, stats.minCopyBytes());
        assertEquals(2, stats.copySizeHistogram()[0]);
        assertEquals(1, stats.copySizeHistogram()[1]);
        assertEquals(4.0 / 3 * slot, stats.meanCopyBytes(), 1e-9);
        assertEquals(2, stats.deviceBlocks());
        assertEquals(2, stats.hostBlocks());
        assertEquals(4, stats.deviceBlocksPeak());
        assertEquals(4 * slot, stats.deviceBytesPeak());
        assertEquals(3, stats.residency().size(), "end of prefill and two steps");

        ObjectMapper json = new ObjectMapper();
        String text = json.writeValueAsString(stats);
        JsonNode tree = json.readTree(text);
        assertEquals("cpu", tree.get("backend").asText());
        assertEquals(3, tree.get("d2hBlocks").asLong());
        assertEquals(3, tree.get("residency").size());
        TierStats back = json.readValue(text, TierStats.class);
        assertEquals(stats.residency(), back.residency());
        assertEquals(stats.summary(), back.summary());
    }

    @Test
    void since_andResetPeaks_measureASecondSequenceAsTheFirstAlone() {
        try (TierManager m = TierManagerTest.manager(8, 8, CopyFaults.NONE)) {
            TierStats first = runOne(m);
            m.resetPeaks();
            TierStats start = m.stats();
            assertEquals(0, start.deviceBlocksPeak(), "the first sequence's blocks are free again");
            TierStats second = runOne(m).since(start);
            assertTrue(first.d2hBlocks() > 0, "the sequence demoted blocks");
            assertEquals(first.d2hBlocks(), second.d2hBlocks());
            assertEquals(first.d2hBytes(), second.d2hBytes());
            assertEquals(first.d2hCopies(), second.d2hCopies());
            assertEquals(first.h2dBlocks(), second.h2dBlocks());
            assertArrayEquals(first.copySizeHistogram(), second.copySizeHistogram());
            assertEquals(first.deviceBlocksPeak(), second.deviceBlocksPeak(), "its own peak, not the larger of both");
            assertEquals(first.residency().size(), second.residency().size(), "its own residency samples");
            assertEquals(2 * first.d2hBlocks(), m.stats().d2hBlocks(), "the manager's totals still count both");
        }
    }

    /** One sequence as in the test above, closed; the manager's stats just before the close. */
    private static TierStats runOne(TierManager m) {
        KvHarness h = new KvHarness(m, 2, Integer.MAX_VALUE);
        h.append(16);
        h.sequence.endPrefill();
        m.awaitCopies();
        h.sequence.step();
        m.awaitCopies();
        TierStats stats = m.stats();
        h.sequence.close();
        return stats;
    }
}

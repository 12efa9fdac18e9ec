package io.tierkv.tiering;

import static org.junit.jupiter.api.Assertions.*;

import io.tierkv.core.DType;
import io.tierkv.core.KvLayout;
import io.tierkv.core.memory.MemoryLedger;
import io.tierkv.cuda.driver.Backend;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import org.junit.jupiter.api.Test;

/** The copy benchmark on small arenas: it moves what it says, verifies the bytes and frees everything. */
class CopyThroughputTest {

    @Test
    void measure_movesWholeArenas_coalescesRuns_andVerifiesBothDirections() {
        MemoryLedger.Snapshot ledger = MemoryLedger.snapshot();
        KvLayout layout = new KvLayout(1, 2, 64, DType.BF16, 16);
        long block = layout.blockBytes();
        CopyThroughput.Options options = new CopyThroughput.Options(layout, Backend.CPU, 64 * block, 100 * block, 16 * block, 2);
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        CopyThroughput.Result r = CopyThroughput.measure(options, new PrintStream(log, true));
        ledger.assertNoLeaks();
        assertEquals(2, r.passes(), "100 blocks round up to two arenas of 64");
        assertEquals(128 * block, r.bytes());
        assertTrue(r.engineGBps() > 0 && r.memcpyGBps() > 0 && r.ratio() > 0);
        assertEquals(0, r.failedCopies());
        assertEquals(64, r.verifiedSlots());
        assertEquals(16 * block, r.copyStats().maxCopyBytes(), "coalesced runs reach the run limit");
        assertTrue(log.toString().contains("round 2:"), log.toString());
    }

    @Test
    void options_rejectRunsShorterThanABlock_andArenasThatAreNotWholeBlocks() {
        KvLayout layout = new KvLayout(1, 2, 64, DType.BF16, 16);
        long block = layout.blockBytes();
        assertThrows(IllegalArgumentException.class, () -> new CopyThroughput.Options(layout, Backend.CPU, 64 * block, block, block - 1, 1));
        assertThrows(IllegalArgumentException.class, () -> new CopyThroughput.Options(layout, Backend.CPU, 64 * block, block, block, 0));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> CopyThroughput.measure(
                new CopyThroughput.Options(layout, Backend.CPU, 64 * block + 100, block, block, 1), System.out));
        assertTrue(e.getMessage().contains("not a whole number of " + block + "-byte blocks"), e.getMessage());
    }
}

package io.tierkv.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.bench.report.Report;
import io.tierkv.core.memory.MemoryLedger;
import io.tierkv.model.generate.HostRead;
import io.tierkv.model.llama.LlamaConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bench decode --backend cuda}'s rows on the host mirror of the device (a small random model): full on the device
 * (launch by launch and from captured graphs), tiered under placement alone, and tiered {@code hierarchical} with digest host
 * reads (launch by launch, and with graphs on, which its whole-block choices leave uncaptured), each with its traffic and
 * share of host bytes read; the report is written.
 */
class CudaDecodeBenchTest {
    @Test
    void rows_fullOnDevice_withAndWithoutGraphs_tieredFull_andEachPolicy_withTheirTrafficAndHostReads(@TempDir Path out) throws Exception {
        LlamaConfig c = new LlamaConfig(64, 128, 2, 4, 2, 16, 300, 200, 1e-5, 10000.0, null, true, 1, 2);
        MemoryLedger.Snapshot before = MemoryLedger.snapshot();
        Report r = new CudaDecodeBench(c, 128, 24, 16, 1, List.of("full", "hierarchical:window=4"), 0.25, HostRead.digest(2), true)
                .run(out);
        before.assertNoLeaks();
        assertEquals(5, r.rowCount());
        assertEquals("full on device", r.value(0, "mode"));
        assertEquals(1.0, (double) r.value(0, "ofFullOnDevice"), 1e-9);
        assertTrue(Double.isNaN((double) r.value(0, "hostReadFraction")), "no host tier on the device alone");
        assertEquals("full on device, CUDA graphs", r.value(1, "mode"), "the host mirror captures the step too");
        assertTrue((double) r.value(1, "decodeTokensPerSecond") > 0);
        assertEquals("tiered hierarchical:window=4, digest:blocks=2", r.value(3, "mode"));
        assertEquals("tiered hierarchical:window=4, digest:blocks=2, CUDA graphs (no step capturable)", r.value(4, "mode"),
                "whole-block digest choices read back mid-step: every step launch by launch");
        assertEquals((double) r.value(3, "hostReadFraction"), (double) r.value(4, "hostReadFraction"), 0.0, "the same reads");
        for (int row = 2; row < 5; row++) {
            assertTrue((long) r.value(row, "d2hBytes") > 0, "row " + row + ": blocks went to the host tier");
        }
        assertEquals(1.0, (double) r.value(2, "hostReadFraction"), 1e-9, "placement alone reads the host tier exactly");
        double read = (double) r.value(3, "hostReadFraction");
        assertTrue(read > 0 && read < 1, "digest reads read part of the host tier: " + read);
        for (int row = 0; row < 5; row++) {
            assertTrue((double) r.value(row, "launchMicros") > 0 && (double) r.value(row, "deviceWaitMicros") >= 0,
                    "row " + row + ": the best run's host time by phase");
        }
        assertTrue((double) r.value(3, "policyMicros") > (double) r.value(0, "policyMicros"),
                "the hierarchical policy's host work shows in its row, not in full on the device's");
        assertTrue(Files.exists(out.resolve("decode.json")));
    }
}

package io.tierkv.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.core.trace.TraceReader;
import io.tierkv.core.trace.TraceStep;
import io.tierkv.model.llama.LlamaConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code trace record --backend cuda} on the host mirror of the device: the CUDA decoder's trace (prefill record from the
 * last prompt queries, then each generated token's top-k per layer from its attention rows) equals the one libtorch's decoder records for
 * the same prompt and policy.
 */
class CudaTraceRecordTest {
    private static final int STEPS = 24;

    @Test
    void theHostMirrorsTrace_equalsTheCpuRecordersTrace(@TempDir Path tmp) throws Exception {
        ModelOptions m = new ModelOptions();
        m.backend = "cpu";
        m.blockSize = 16;
        m.hostRead = "exact";
        SuitePromptOptions suite = new SuitePromptOptions();
        suite.type = "mc";
        suite.position = "after";
        suite.index = 0;
        Path cpu = tmp.resolve("cpu.tkvt");
        Path cuda = tmp.resolve("cuda.tkvt");
        TraceRecorder.record(m, cpu, STEPS, 8, suite, null, "hierarchical", new RemoteOptions(), false);
        TraceRecorder.recordOnCuda(m, m.modelDir(), LlamaConfig.readDir(m.modelDir()), cuda, STEPS, 8, suite, null, "hierarchical",
                new RemoteOptions(), true);
        try (TraceReader a = TraceReader.open(cpu); TraceReader b = TraceReader.open(cuda)) {
            assertEquals(a.header().promptLength(), b.header().promptLength());
            assertNotNull(b.header().prefill(), "the CUDA trace has its prefill record");
            assertTrue(Arrays.deepEquals(a.header().prefill(), b.header().prefill()), "prefill records: the last prompt queries' top-k per block");
            List<int[][]> x = steps(a);
            List<int[][]> y = steps(b);
            assertEquals(STEPS, x.size());
            assertEquals(x.size(), y.size(), "steps recorded");
            for (int t = 0; t < x.size(); t++) {
                for (int l = 0; l < x.get(t).length; l++) {
                    assertArrayEquals(x.get(t)[l], y.get(t)[l], "step " + t + " layer " + l);
                }
            }
        }
    }

    private static List<int[][]> steps(TraceReader r) throws Exception {
        List<int[][]> out = new ArrayList<>();
        TraceStep s = r.header().newStep();
        while (r.next(s)) {
            int[][] step = new int[s.layers()][];
            for (int l = 0; l < s.layers(); l++) {
                step[l] = Arrays.copyOf(s.positions(l), s.count(l));
            }
            out.add(step);
        }
        return out;
    }
}

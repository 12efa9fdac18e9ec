package io.tierkv.model.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.tierkv.core.memory.MemoryLedger;
import io.tierkv.cuda.driver.Backend;
import io.tierkv.cuda.driver.BackendSelection;
import io.tierkv.model.BundledModel;
import io.tierkv.model.generate.PrefillMode;
import io.tierkv.model.llama.LlamaConfig;
import io.tierkv.model.task.TaskConfig;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * {@code eval --backend cuda} on the GPU against the host mirror that {@code CudaEvalHostTest} holds to the CPU: the same
 * prompts, policies and budget give the same scored answers per prompt and round, and the device peaks stay within the
 * budget. Not yet run on hardware.
 */
@Tag("gpu")
class CudaEvalGpuTest {
    @BeforeEach
    void needsGpu() {
        BackendSelection s = BackendSelection.probe("auto");
        assumeTrue(s.backend() == Backend.CUDA, () -> "no usable GPU: " + s.reason());
    }

    @Test
    void evalOnTheGpu_scoresEveryPromptAsTheHostMirror() {
        Path model = BundledModel.directory();
        EvalSettings s = new EvalSettings(2, List.of("full", "hierarchical", "streaming"), 0.25, PrefillMode.PAPER, 20261130, 16, 32, 24,
                new TaskConfig(4, 8, 200, 240), true, 2);
        MemoryLedger.Snapshot before = MemoryLedger.snapshot();
        EvalResult gpu = ReadingEval.onCuda(model, LlamaConfig.readDir(model), s, line -> { }, null, false).warmUps(1).run();
        EvalResult host = ReadingEval.onCuda(model, LlamaConfig.readDir(model), s, line -> { }, null, true).warmUps(0).run();
        assertEquals(host.prompts().size(), gpu.prompts().size());
        for (int i = 0; i < host.prompts().size(); i++) {
            EvalResult.PromptLine h = host.prompts().get(i);
            EvalResult.PromptLine g = gpu.prompts().get(i);
            assertEquals(h.policy(), g.policy());
            for (int r = 0; r < h.rounds().size(); r++) {
                assertArrayEquals(h.rounds().get(r).correct(), g.rounds().get(r).correct(), h.policy() + " prompt " + i + " round " + (r + 1));
            }
            assertTrue(g.deviceBudgetPeak() <= 1 + 1e-9, g.policy() + " device peak " + g.deviceBudgetPeak());
        }
        before.assertNoLeaks();
    }
}

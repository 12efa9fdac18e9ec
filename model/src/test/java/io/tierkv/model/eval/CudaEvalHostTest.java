package io.tierkv.model.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.core.memory.MemoryLedger;
import io.tierkv.model.BundledModel;
import io.tierkv.model.generate.PrefillMode;
import io.tierkv.model.llama.LlamaCheckpoint;
import io.tierkv.model.llama.LlamaConfig;
import io.tierkv.model.llama.LlamaWeights;
import io.tierkv.model.task.TaskConfig;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@code eval --backend cuda}'s runner ({@link CudaPromptRunner}) on the host mirror of the device: the bundled model's
 * answers through the CUDA decoder's orchestration (tiered KV, the popularity top-k on the "device", the policy in the
 * loop) agree with libtorch's on the CPU, within the same budgets, in paper and chunked mode.
 */
class CudaEvalHostTest {
    private static final Path MODEL = BundledModel.directory();
    private static final TaskConfig SHORT = new TaskConfig(4, 8, 200, 240);

    private static EvalSettings settings(List<String> policies, PrefillMode mode) {
        return new EvalSettings(1, policies, 0.25, mode, 20261130, 16, 32, 24, SHORT, true, 2);
    }

    @Test
    void onTheHostMirror_fullAnswersAsOnTheCpu_andTieredPoliciesKeepTheirBudgets() {
        MemoryLedger.Snapshot before = MemoryLedger.snapshot();
        EvalSettings s = settings(List.of("full", "hierarchical", "streaming"), PrefillMode.PAPER);
        EvalResult cuda = ReadingEval.onCuda(MODEL, LlamaConfig.readDir(MODEL), s, line -> { }, null, true).warmUps(0).run();
        EvalResult cpu;
        try (LlamaWeights w = LlamaCheckpoint.load(MODEL)) {
            cpu = new ReadingEval(w, settings(List.of("full"), PrefillMode.PAPER), line -> { }).warmUps(0).run();
        }
        List<EvalResult.PromptLine> cpuFull = cpu.prompts().stream().filter(l -> l.policy().equals("full")).toList();
        List<EvalResult.PromptLine> cudaFull = cuda.prompts().stream().filter(l -> l.policy().equals("full")).toList();
        assertEquals(2, cudaFull.size(), "one prompt per position");
        for (int i = 0; i < cpuFull.size(); i++) {
            for (int r = 0; r < 2; r++) {
                assertArrayEquals(cpuFull.get(i).rounds().get(r).correct(), cudaFull.get(i).rounds().get(r).correct(),
                        "prompt " + i + " round " + (r + 1) + ": the same answers scored the same");
            }
        }
        for (String position : List.of("before", "after")) {
            EvalRow full = cuda.row("full", position, "all");
            EvalRow hier = cuda.row("hierarchical", position, "all");
            EvalRow sinks = cuda.row("streaming", position, "all");
            assertEquals(full.accuracy(), hier.accuracy(), 1e-9, position + ": tier mode loses nothing");
            assertTrue(hier.deviceBudgetPeak() <= 1 + 1e-9 && full.deviceBudgetPeak() <= 1 + 1e-9,
                    position + ": device peaks within the budget " + hier.deviceBudgetPeak() + " " + full.deviceBudgetPeak());
            assertTrue(hier.d2hPerToken() > 0 || hier.prefillD2h() > 0, position + ": blocks went to the host tier");
            assertEquals(1.0, full.kvKeptMean(), 1e-9, "full keeps every token");
            assertTrue(sinks.kvKeptMean() < 0.6, position + ": streaming keeps about its budget, kept " + sinks.kvKeptMean());
            assertTrue(Double.isNaN(hier.deviceAttentionShare()), "the attention probabilities stay on the device: not measured");
        }
        before.assertNoLeaks();
    }

    @Test
    void chunkedMode_onTheHostMirror_answersAsTheCpu_andTheHierarchicalPolicyActsDuringThePrompt() {
        MemoryLedger.Snapshot before = MemoryLedger.snapshot();
        EvalSettings s = new EvalSettings(1, List.of("full", "hierarchical"), 0.25, PrefillMode.CHUNKED, 20261130, 16, 32, 24, SHORT, true, 1);
        EvalResult cuda = ReadingEval.onCuda(MODEL, LlamaConfig.readDir(MODEL), s, line -> { }, null, true).warmUps(0).run();
        EvalResult cpu;
        try (LlamaWeights w = LlamaCheckpoint.load(MODEL)) {
            cpu = new ReadingEval(w, new EvalSettings(1, List.of("full"), 0.25, PrefillMode.CHUNKED, 20261130, 16, 32, 24, SHORT, true, 1),
                    line -> { }).warmUps(0).run();
        }
        for (String position : List.of("before", "after")) {
            assertEquals(cpu.row("full", position, "all").correct(), cuda.row("full", position, "all").correct(), position + ": full");
            EvalRow hier = cuda.row("hierarchical", position, "all");
            assertEquals(cuda.row("full", position, "all").correct(), hier.correct(), position + ": tier mode loses nothing");
            assertTrue(hier.prefillD2h() > 0, position + ": blocks went to the host while the prompt streamed in");
            assertTrue(hier.deviceBudgetPeak() <= 1 + 1e-9, position + ": device peak " + hier.deviceBudgetPeak());
        }
        before.assertNoLeaks();
    }
}

package io.tierkv.model.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.core.memory.MemoryLedger;
import io.tierkv.model.generate.PrefillMode;
import io.tierkv.model.llama.LlamaConfig;
import io.tierkv.model.llama.LlamaWeights;
import io.tierkv.model.task.TaskConfig;
import io.tierkv.model.task.Vocabulary;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The evaluation harness on a small random model over the suite's vocabulary: the answers are wrong, but
 * every policy must run, the report must add up, and each policy must respect the device budget.
 */
class ReadingEvalTest {
    static LlamaWeights weights;

    @BeforeAll
    static void model() {
        LlamaConfig c = new LlamaConfig(32, 64, 2, 4, 2, 8, Vocabulary.get().size(), 1024, 1e-5, 10000.0, null, true, 1, 2);
        weights = LlamaWeights.random(c, 5, 0.1, false);
    }

    @AfterAll
    static void free() {
        weights.close();
    }

    @ParameterizedTest
    @EnumSource(PrefillMode.class)
    void everyPolicyRuns_reportAddsUp_andDevicePeakStaysWithinTheBudget(PrefillMode mode) {
        MemoryLedger.Snapshot before = MemoryLedger.snapshot();
        List<String> policies = List.of("full", "hierarchical", "streaming", "snapkv", "h2o");
        TaskConfig small = new TaskConfig(4, 6, 120, 160);
        double budget = 0.5;
        EvalSettings s = new EvalSettings(4, policies, budget, mode, 11, 16, 40, 12, small, true);
        List<String> progress = new java.util.ArrayList<>();
        EvalResult r = new ReadingEval(weights, s, progress::add).run();
        assertEquals(policies.size() * 2 * 2 * 5, r.rows().size(), "policy x position x (round 1, all) x (all + 4 types)");
        // a line at each position's last prompt (and more only if a run took ReadingEval.PROGRESS_SECONDS)
        assertTrue(progress.stream().anyMatch(l -> l.startsWith("[20/40 runs] questions before prompt 4/4, accuracy so far:  full ")), progress.toString());
        assertTrue(progress.stream().anyMatch(l -> l.startsWith("[40/40 runs] questions after  prompt 4/4, accuracy so far:  full ")), progress.toString());
        assertTrue(progress.stream().allMatch(l -> l.matches("\\[\\d+/40 runs\\] questions (before|after ) prompt \\d/4, accuracy so far:( +\\S+ (-|\\d\\.\\d\\d))+  \\(\\d+s, ~\\d+s left\\)")),
                progress.toString());
        long slotBytes = 2L * 16 * weights.config.kvHeads() * weights.config.headDim() * 4;
        for (String p : policies) {
            for (String position : List.of("before", "after")) {
                EvalRow all = r.row(p, position, "all");
                assertNotNull(all, p + " " + position);
                assertEquals(16, all.total(), "4 prompts x 4 questions");
                int byType = 0;
                for (String t : List.of("tf", "fill", "mc", "match")) {
                    byType += r.row(p, position, t).total();
                }
                assertEquals(all.total(), byType);
                // The longest prompt is under 160 + 45 tokens: its budget is under 103 tokens, 6 blocks per layer.
                assertTrue(all.deviceBytesPeak() <= 6L * weights.config.layers() * slotBytes,
                        p + " " + position + " device peak " + all.deviceBytesPeak());
                assertTrue(all.deviceBytesPeak() > 0);
            }
        }
        assertEquals(1.0, r.row("full", "before", "all").kvKeptMean(), 1e-9, "full keeps everything");
        assertTrue(r.row("streaming", "before", "all").kvKeptMean() < 0.7, "streaming keeps about its budget");
        assertEquals(policies.size() * 2, r.sizeCurves().size());
        assertEquals(policies.size() * 2, r.popularity().size());
        assertEquals(policies.size() * 2 * 4, r.prompts().size(), "one eval.jsonl line per prompt and policy");
        before.assertNoLeaks();
    }

    @ParameterizedTest
    @EnumSource(PrefillMode.class)
    void multiRound_reportsEveryRound_withItsOwnQuestions_andTheDeviceShareOfAttention(PrefillMode mode) {
        MemoryLedger.Snapshot before = MemoryLedger.snapshot();
        List<String> policies = List.of("full", "h2o");
        TaskConfig small = new TaskConfig(4, 6, 120, 160);
        EvalSettings s = new EvalSettings(4, policies, 0.5, mode, 11, 16, 40, 12, small, true, 3);
        EvalResult r = new ReadingEval(weights, s, line -> { }).run();
        assertEquals(policies.size() * 2 * 4 * 5, r.rows().size(), "policy x position x (rounds 1-3, all) x (all + 4 types)");
        for (String p : policies) {
            for (String position : List.of("before", "after")) {
                int sum = 0;
                for (String round : List.of("1", "2", "3")) {
                    EvalRow row = r.row(p, position, round, "all");
                    assertEquals(16, row.total(), p + " round " + round + ": 4 prompts x 4 new questions");
                    sum += row.total();
                    assertTrue(row.deviceAttentionShare() > 0 && row.deviceAttentionShare() <= 1 + 1e-6,
                            p + " round " + round + " device share " + row.deviceAttentionShare());
                    assertTrue(row.deviceTopkShare() >= 0 && row.deviceTopkShare() <= 1);
                    assertTrue(row.deviceBudgetPeak() <= 1 + 1e-9, "the device arena is the budget");
                }
                EvalRow all = r.row(p, position, "all", "all");
                assertEquals(sum, all.total());
                assertTrue(all.tpotP50Ms() > 0 && all.tpotP50Ms() <= all.tpotP99Ms());
            }
        }
        // Only half of round 1's prompt fits on the device, and the session outgrows it: full reads the rest on the host.
        EvalRow full = r.row("full", "after", "all", "all");
        assertTrue(full.deviceAttentionShare() < 1, "full's share " + full.deviceAttentionShare());
        assertTrue(full.prefillD2h() > 0, "the prompt overflows the device");
        assertEquals(0, full.frees(), 1e-9, "full frees nothing");
        assertTrue(r.row("h2o", "after", "all", "all").frees() > 0, "h2o evicts");
        for (EvalResult.PromptLine line : r.prompts()) {
            assertEquals(3, line.rounds().size());
            assertTrue(line.sessionTokens() > line.promptTokens() + line.generatedTokens(), "later rounds' chunks are in the cache");
        }
        for (EvalResult.ResidencyTrace t : r.residency()) {
            int[] last = t.steps()[t.steps().length - 1];
            assertTrue(last[0] + last[1] + last[2] >= last[3] - 16 * 2, "device + host + freed cover the sequence (blocks in flight aside)");
        }
        before.assertNoLeaks();
    }

    @ParameterizedTest
    @EnumSource(PrefillMode.class)
    void badSettings_areRefusedWithTheirName(PrefillMode mode) {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new EvalSettings(4, List.of("full"), 1.5, mode, 1, 16, 40, 8,
                TaskConfig.eval(), false)).getMessage().contains("budget"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new ReadingEval(weights,
                new EvalSettings(1, List.of("nope"), 0.5, mode, 1, 16, 40, 8, TaskConfig.eval(), false), l -> { }))
                .getMessage().contains("unknown policy 'nope'"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new EvalSettings(4, List.of("full"), 0.5, mode, 1, 16, 40, 8,
                TaskConfig.eval(), false, 0)).getMessage().contains("rounds"));
    }
}

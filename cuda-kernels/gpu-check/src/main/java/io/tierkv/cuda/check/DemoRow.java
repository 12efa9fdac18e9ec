package io.tierkv.cuda.check;

import io.tierkv.model.BundledModel;
import io.tierkv.model.eval.EvalResult;
import io.tierkv.model.eval.EvalRow;
import io.tierkv.model.eval.EvalSettings;
import io.tierkv.model.eval.ReadingEval;
import io.tierkv.model.generate.PrefillMode;
import io.tierkv.model.llama.LlamaConfig;
import io.tierkv.model.task.TaskConfig;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * The GPU check's {@code demo --backend cuda}: the paper's experiment, small, on the CUDA decoder ({@link ReadingEval#onCuda}):
 * the bundled model, {@value #PROMPTS} held-out prompts per question position, every model policy at a 25% device budget,
 * each prompt and policy in a fresh tiered decoder (prompt prefilled in chunks up to the rows the policy reads, answers decoded greedily on the
 * device). One line per policy: accuracy with the questions before and after the passage, decode speed, TPOT.
 */
final class DemoRow {
    static final int PROMPTS = 4;
    static final List<String> POLICIES = List.of("full", "hierarchical", "streaming", "snapkv", "h2o");

    private DemoRow() {
    }

    /** Runs and prints the rows; false (with the reason printed) when the evaluation failed. */
    static boolean run(Path out) throws IOException {
        return run(out, false);
    }

    /** As {@link #run(Path)}, or with {@code hostMirror} on the host mirror of the device (the check rehearsed, nothing measured). */
    static boolean run(Path out, boolean hostMirror) throws IOException {
        Report text = new Report(out.resolve("demo.txt"));
        boolean ok = true;
        try {
            Path model = BundledModel.directory();
            EvalSettings s = new EvalSettings(PROMPTS, POLICIES, 0.25, PrefillMode.PAPER, EvalSettings.DEFAULT_SEED, 16, 40, 40,
                    TaskConfig.eval(), false, 1);
            Watchdog.stage("demo --backend cuda");
            long t0 = System.nanoTime();
            EvalResult r = ReadingEval.onCuda(model, LlamaConfig.readDir(model), s, line -> Watchdog.stage("demo --backend cuda: " + line),
                    null, hostMirror).run();
            double secs = (System.nanoTime() - t0) / 1e9;
            for (String p : POLICIES) {
                EvalRow before = r.row(p, "before", "all");
                EvalRow after = r.row(p, "after", "all");
                text.line(String.format(Locale.ROOT, "demo      %-12s before %5.1f%%  after %5.1f%%  kept %.2f  device peak %.2f of the budget,"
                                + " decode %.0f tok/s, TPOT p50 %.3f ms", p, 100 * before.accuracy(), 100 * after.accuracy(),
                        (before.kvKeptMean() + after.kvKeptMean()) / 2, Math.max(before.deviceBudgetPeak(), after.deviceBudgetPeak()),
                        (before.tokensPerSecond() + after.tokensPerSecond()) / 2, before.tpotP50Ms()));
                ok &= before.deviceBudgetPeak() <= 1 + 1e-9 && after.deviceBudgetPeak() <= 1 + 1e-9;
            }
            text.line(String.format(Locale.ROOT, "demo      %d prompts x 2 positions x %d policies in %.1f s (25%% device budget, paper mode,"
                    + " bundled model)", PROMPTS, POLICIES.size(), secs));
        } catch (RuntimeException | LinkageError e) {
            text.line("demo      FAILED: " + e);
            ok = false;
        }
        return ok;
    }
}

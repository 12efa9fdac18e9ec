package io.tierkv.bench;

import io.tierkv.model.eval.EvalResult;
import io.tierkv.model.eval.ReadingEval;
import io.tierkv.model.llama.LlamaCheckpoint;
import io.tierkv.model.llama.LlamaWeights;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code tierkv eval}: the paper's experiment. */
@Command(name = "eval", mixinStandardHelpOptions = true,
        description = "The paper's experiment: every policy on the same reading-comprehension prompts, questions before and"
            + " after the passage, at a device budget; writes eval.json, eval.csv and PNG plots.")
final class EvalCommand implements Callable<Integer> {
    @Mixin
    ModelOptions modelOptions;

    @Mixin
    OutputOption output;

    @Mixin
    EvalOptions evalOptions;

    @Option(names = "--prompts", defaultValue = "200", description = "Prompts per question position (default: ${DEFAULT-VALUE}).")
    int prompts;

    @Override
    public Integer call() throws Exception {
        return run(modelOptions, evalOptions, prompts, output.dir("eval"));
    }

    static int run(ModelOptions modelOptions, EvalOptions evalOptions, int prompts, Path out) throws Exception {
        modelOptions.validate();
        Options.positive("--prompts", prompts);
        var settings = evalOptions.settings(prompts, modelOptions.blockSize);
        OutputOption.writableDirectory("--out", out);
        var hostRead = modelOptions.hostRead();
        Path dir = modelOptions.modelDir();
        try (LlamaWeights w = LlamaCheckpoint.load(dir)) {
            modelOptions.applyThreads(w.config);
            System.out.printf("eval: %d prompts per position, policies %s, device budget %.0f%% of each prompt, %s mode, host read %s%n",
                    prompts, settings.policies(), 100 * settings.budget(), settings.mode().name().toLowerCase(java.util.Locale.ROOT), hostRead);
            EvalResult r = new ReadingEval(w, settings, System.out::println).hostRead(hostRead).run();
            EvalReport.write(r, modelOptions.model == null ? Path.of("(bundled)") : dir, out);
            System.out.println();
            System.out.print(EvalReport.paperTable(r));
            System.out.println();
            System.out.println("report: " + out.toAbsolutePath().resolve("eval.json") + " (and eval.csv, *.png)");
        }
        return 0;
    }
}

package io.tierkv.bench;

import io.tierkv.core.policy.Policies;
import io.tierkv.model.eval.EvalSettings;
import io.tierkv.model.generate.PrefillMode;
import io.tierkv.model.task.TaskConfig;
import java.util.List;
import picocli.CommandLine.Option;

/** The options of {@code eval} (and, with smaller defaults, {@code demo}). */
final class EvalOptions {
    @Option(names = "--policies", split = ",", description = "Policies to compare (default: full,hierarchical,streaming,snapkv,h2o).")
    List<String> policies = Policies.DEFAULT_EVAL;

    @Option(names = "--budget", defaultValue = "0.25", description = "Device budget as a fraction of each prompt (default: ${DEFAULT-VALUE}).")
    double budget;

    @Option(names = "--mode", defaultValue = "paper",
            description = "paper: dense prefill, policy while generating; chunked: policy while the prompt streams in (default: ${DEFAULT-VALUE}).")
    String mode;

    @Option(names = "--seed", defaultValue = "" + EvalSettings.DEFAULT_SEED, description = "Prompt seed (default: ${DEFAULT-VALUE}, held out from training).")
    long seed;

    @Option(names = "--chunk", defaultValue = "40", description = "Prompt chunk in chunked mode (default: ${DEFAULT-VALUE}).")
    int chunk;

    @Option(names = "--max-tokens", defaultValue = "40", description = "Generation limit per prompt (default: ${DEFAULT-VALUE}).")
    int maxTokens;

    @Option(names = "--no-plots", description = "Skip the PNG plots.")
    boolean noPlots;

    @Option(names = "--rounds",
            description = "Rounds of four new questions per prompt, each after the previous answers (default: eval 3, demo 1;"
                    + " 1 is the paper's experiment).")
    Integer rounds;

    @Option(names = "--passage-scale", defaultValue = "1",
            description = "Passage length as a multiple of the default 400 to 560 tokens (default: ${DEFAULT-VALUE}).")
    double passageScale;

    EvalSettings settings(int prompts, int blockSize, int defaultRounds) {
        return new EvalSettings(prompts, List.copyOf(policies), budget, PrefillMode.parse(mode), seed, blockSize, chunk, maxTokens,
                TaskConfig.eval().scaled(passageScale), !noPlots, rounds == null ? defaultRounds : rounds);
    }
}

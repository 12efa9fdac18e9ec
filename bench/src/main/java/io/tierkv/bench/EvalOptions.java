package io.tierkv.bench;

import io.tierkv.core.policy.Policies;
import io.tierkv.model.eval.EvalSettings;
import io.tierkv.model.generate.PrefillMode;
import io.tierkv.model.task.TaskConfig;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Option;

/** The options of {@code eval} (and, with smaller defaults, {@code demo}). */
final class EvalOptions {
    @Option(names = "--policies", description = "Policies to compare, comma-separated; a spec's own options stay with it, as in"
            + " full,hierarchical:k=16,window=40,h2o (default: full,hierarchical,streaming,snapkv,h2o).")
    String policies;

    /**
     * The policy specs of {@code --policies}: split at commas, except that a piece {@code key=value} without a
     * name continues the spec before it ({@code hierarchical:k=16,window=40} is one spec).
     */
    static List<String> parsePolicies(String raw) {
        if (raw == null) {
            return Policies.DEFAULT_EVAL;
        }
        List<String> out = new ArrayList<>();
        for (String piece : raw.split(",")) {
            String p = piece.trim();
            if (p.isEmpty()) {
                throw new IllegalArgumentException("--policies has an empty entry: '" + raw + "'");
            }
            boolean option = p.contains("=") && !p.contains(":");
            if (option && !out.isEmpty() && out.get(out.size() - 1).contains(":")) {
                out.set(out.size() - 1, out.get(out.size() - 1) + "," + p);
            } else {
                out.add(p);
            }
        }
        return List.copyOf(out);
    }

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

    /** The settings, every option checked. */
    EvalSettings settings(int prompts, int blockSize, int defaultRounds) {
        List<String> specs = PolicyNames.models("--policies", parsePolicies(policies));
        Options.fraction("--budget", budget);
        Options.positive("--chunk", chunk);
        Options.positive("--max-tokens", maxTokens);
        if (rounds != null) {
            Options.positive("--rounds", rounds);
        }
        if (!(passageScale > 0) || Double.isInfinite(passageScale)) {
            throw new IllegalArgumentException("--passage-scale must be > 0, was " + passageScale);
        }
        return new EvalSettings(prompts, specs, budget, PrefillMode.parse(mode), seed, blockSize, chunk, maxTokens,
                TaskConfig.eval().scaled(passageScale), !noPlots, rounds == null ? defaultRounds : rounds);
    }
}

package io.tierkv.model.eval;

import io.tierkv.model.generate.PrefillMode;
import io.tierkv.model.task.TaskConfig;
import java.util.List;

/**
 * One evaluation run's settings.
 *
 * @param promptsPerPosition prompts with the questions before, and as many after (types cycle)
 * @param policies           policy specs, in report order
 * @param budget             device budget as a fraction of each prompt's length (0, 1]
 * @param mode               paper (dense prefill) or chunked
 * @param seed               seeds the prompts (held out from training: the trainer draws from another stream)
 * @param blockSize          tokens per KV block
 * @param chunk              prompt chunk in chunked mode
 * @param maxTokens          generation limit per prompt
 * @param task               passage lengths and fact counts
 * @param trackPlots         record per-step sizes and level snapshots for the plots
 * @param rounds             rounds of questions per prompt (1: the paper's experiment)
 */
public record EvalSettings(int promptsPerPosition, List<String> policies, double budget, PrefillMode mode, long seed,
                           int blockSize, int chunk, int maxTokens, TaskConfig task, boolean trackPlots, int rounds) {

    /** Held-out prompts: training seeds a SplittableRandom from its seed; evaluation indexes prompts from 1_000_003 on. */
    public static final long DEFAULT_SEED = 1_000_003L;
    /** Most rounds: every question asks about a different fact, and a passage has at most 40 names. */
    public static final int MAX_ROUNDS = 10;

    /** The same settings with one round (the paper's experiment). */
    public EvalSettings(int promptsPerPosition, List<String> policies, double budget, PrefillMode mode, long seed,
                        int blockSize, int chunk, int maxTokens, TaskConfig task, boolean trackPlots) {
        this(promptsPerPosition, policies, budget, mode, seed, blockSize, chunk, maxTokens, task, trackPlots, 1);
    }

    public EvalSettings {
        if (promptsPerPosition <= 0) {
            throw new IllegalArgumentException("prompts per position must be > 0, was " + promptsPerPosition);
        }
        if (policies == null || policies.isEmpty()) {
            throw new IllegalArgumentException("no policies to evaluate");
        }
        if (!(budget > 0 && budget <= 1)) {
            throw new IllegalArgumentException("budget must be a fraction of the prompt in (0, 1], was " + budget);
        }
        if (blockSize <= 0) {
            throw new IllegalArgumentException("block size must be > 0, was " + blockSize);
        }
        if (chunk <= 0) {
            throw new IllegalArgumentException("chunk must be > 0, was " + chunk);
        }
        if (rounds < 1 || rounds > MAX_ROUNDS) {
            throw new IllegalArgumentException("rounds must be in [1, " + MAX_ROUNDS + "], was " + rounds);
        }
        if (maxTokens <= 0) {
            throw new IllegalArgumentException("max tokens must be > 0, was " + maxTokens);
        }
    }
}

package io.tierkv.model.eval;

import io.tierkv.model.task.ReadingPrompt;

/**
 * Runs one prompt, all its rounds, through one policy in a fresh sequence: on the CPU ({@link PromptRunner}, libtorch) or
 * with the CUDA decoder ({@link CudaPromptRunner}). {@link ReadingEval} drives either the same way.
 */
interface PromptRuns extends AutoCloseable {
    /** Runs {@code rounds} rounds of {@code prompt} (at most its own) under the policy {@code spec}. */
    PromptRunner.Run run(String spec, ReadingPrompt prompt, int rounds, PromptRunner.Observer observer);

    /** Frees what the runner keeps between runs (the CUDA decoders); nothing by default. */
    @Override
    default void close() {
    }
}

package io.tierkv.model.train;

import java.nio.file.Path;

/**
 * Everything that decides a training run. The defaults are the bundled model's.
 *
 * @param seed         seeds weights and data
 * @param hidden       model width
 * @param layers       decoder layers
 * @param heads        query heads
 * @param kvHeads      key/value heads
 * @param intermediate SwiGLU width
 * @param batch        prompts per step
 * @param lr           peak learning rate (AdamW)
 * @param warmup       linear warm-up steps
 * @param maxSteps     a cap on the total steps, should the curriculum never reach its last stage
 * @param finalSteps   steps in the last stage (multi-round reading, passages half to twice the evaluation's), over
 *                     which the learning rate anneals
 * @param advanceAt    line accuracy over the recent steps that moves the curriculum on
 * @param maxStageSteps a stage ends after this many steps even below {@code advanceAt}
 * @param repeatShare  share of batch rows that are repeated random sequences (induction-head warm-up)
 * @param threads      libtorch intra-op threads
 * @param out          output directory (the model in Hugging Face layout, and train.log)
 * @param init         a model directory to start from instead of random weights (same shape), or null
 * @param startStage   the curriculum stage to start in (0: the first); with {@code init}, a continuation
 */
public record TrainConfig(long seed, int hidden, int layers, int heads, int kvHeads, int intermediate,
                          int batch, double lr, int warmup, int maxSteps, int finalSteps, double advanceAt, int maxStageSteps,
                          double repeatShare, int threads, Path out, Path init, int startStage) {

    public TrainConfig {
        if (startStage < 0 || startStage >= Curriculum.stages().size()) {
            throw new IllegalArgumentException("start stage must be in [0, " + (Curriculum.stages().size() - 1) + "], was " + startStage);
        }
    }

    public static TrainConfig defaults(Path out) {
        return new TrainConfig(1, 128, 4, 4, 4, 352, 32, 1.5e-3, 200, 12000, 300, 0.95, 3000, 0.25,
                Math.max(1, Runtime.getRuntime().availableProcessors()), out, null, 0);
    }

    /** The same run from {@code init}'s weights, starting in {@code stage}. */
    public TrainConfig continuing(Path init, int stage) {
        return new TrainConfig(seed, hidden, layers, heads, kvHeads, intermediate, batch, lr, warmup, maxSteps, finalSteps,
                advanceAt, maxStageSteps, repeatShare, threads, out, init, stage);
    }
}

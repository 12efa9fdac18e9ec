package io.tierkv.model.task;

/**
 * How long and how dense the generated passages are.
 *
 * @param minFacts          fact sentences per passage, at least the four that are asked about
 * @param maxFacts          most fact sentences per passage
 * @param minPassageTokens  shortest passage, in tokens
 * @param maxPassageTokens  longest passage, in tokens
 */
public record TaskConfig(int minFacts, int maxFacts, int minPassageTokens, int maxPassageTokens) {

    /** Questions per prompt (the paper: four). */
    public static final int QUESTIONS = 4;
    /** Shortest and longest filler sentence, in words (without the full stop). */
    static final int FILLER_MIN = 4;
    static final int FILLER_MAX = 11;

    public TaskConfig {
        if (minFacts < QUESTIONS) {
            throw new IllegalArgumentException("minFacts must be >= " + QUESTIONS + ", was " + minFacts);
        }
        if (maxFacts < minFacts) {
            throw new IllegalArgumentException("maxFacts " + maxFacts + " < minFacts " + minFacts);
        }
        if (maxFacts > Vocabulary.NAMES.size() || maxFacts > Vocabulary.VALUES.size()) {
            throw new IllegalArgumentException("maxFacts " + maxFacts + " exceeds the vocabulary's names or values");
        }
        if (minPassageTokens < 4 * maxFacts || maxPassageTokens < minPassageTokens) {
            throw new IllegalArgumentException("passage tokens [" + minPassageTokens + ", " + maxPassageTokens
                    + "] cannot hold " + maxFacts + " facts of 4 tokens");
        }
    }

    /**
     * The evaluation task: 8 to 12 facts in passages of 400 to 560 tokens, so that a prompt is 450 to
     * 640 tokens and a quarter-prompt cache (about 110 to 160 tokens) cannot hold the facts.
     */
    public static TaskConfig eval() {
        return new TaskConfig(8, 12, 400, 560);
    }

    /**
     * The same facts in passages {@code scale} times as long (both bounds scaled, rounded).
     *
     * @throws IllegalArgumentException when {@code scale} is not positive or the passages become too short for the facts
     */
    public TaskConfig scaled(double scale) {
        if (!(scale > 0) || Double.isInfinite(scale)) {
            throw new IllegalArgumentException("passage scale must be > 0, was " + scale);
        }
        return new TaskConfig(minFacts, maxFacts, (int) Math.round(minPassageTokens * scale),
                (int) Math.round(maxPassageTokens * scale));
    }
}

package io.tierkv.model.eval;

import java.util.List;

/**
 * Everything an evaluation produced.
 *
 * @param settings   what was run
 * @param rows       one per policy x position x question type ({@code all} first)
 * @param sizeCurves live tokens per layer after each step, mean over prompts, per policy and position
 * @param popularity level snapshots of one prompt per policy and position, for the popularity plots
 */
public record EvalResult(EvalSettings settings, List<EvalRow> rows, List<SizeCurve> sizeCurves,
                         List<PopularitySnapshot> popularity) {

    /**
     * KV size over time.
     *
     * @param kept mean live tokens per layer after step i (chunked prefill steps first, then generated tokens)
     */
    public record SizeCurve(String policy, String position, double[] kept) {
    }

    /**
     * Token levels over time for one prompt: {@code levels[step][token]} is the level code (0 CACHE ..
     * 3 EVICT, -1 not yet arrived) of the token in the last layer after the step.
     */
    public record PopularitySnapshot(String policy, String position, String questionType, int promptTokens,
                                     byte[][] levels) {
    }

    /** The row for a policy, position and type, or null. */
    public EvalRow row(String policy, String position, String type) {
        for (EvalRow r : rows) {
            if (r.policy().equals(policy) && r.position().equals(position) && r.questionType().equals(type)) {
                return r;
            }
        }
        return null;
    }
}

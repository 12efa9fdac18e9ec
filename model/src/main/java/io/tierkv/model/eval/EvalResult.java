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
                         List<PopularitySnapshot> popularity, List<PromptLine> prompts, List<ResidencyTrace> residency) {

    /**
     * One prompt through one policy, for eval.jsonl.
     *
     * @param prompt   the prompt's index in its position
     * @param type     round 1's question type
     * @param rounds   per round: its number, type, correct per question, KV kept, device shares and bytes
     * @param kept     live tokens per layer over the sequence, mean over the rounds
     */
    public record PromptLine(String policy, int prompt, String position, String type, int promptTokens, int sessionTokens,
                             int generatedTokens, List<RoundLine> rounds, double kept, double deviceAttentionShare,
                             double deviceTopkShare, long h2dBytes, long d2hBytes, long prefillH2d, long prefillD2h,
                             long decodeH2d, long decodeD2h, long promotions, long frees, double deviceBudgetPeak) {
    }

    /** One round of a {@link PromptLine}. */
    public record RoundLine(int round, String type, boolean[] correct, double kept, double deviceAttentionShare,
                            double deviceTopkShare, long h2dBytes, long d2hBytes, int generatedTokens) {
    }

    /**
     * Where one prompt's tokens were after each step (prompt chunks, then generated tokens), per layer:
     * {@code steps[i] = {device, host, freed, length}}.
     */
    public record ResidencyTrace(String policy, String position, int[][] steps) {
    }

    /**
     * KV size over time.
     *
     * @param kept    mean live tokens per layer after step i (chunked prefill steps first, then generated tokens),
     *                over the prompts still running at step i; the curve stops when fewer than half are
     * @param running prompts still running at step i
     */
    public record SizeCurve(String policy, String position, double[] kept, int[] running) {
    }

    /**
     * Token levels over time for one prompt: {@code levels[step][token]} is the level code (0 CACHE ..
     * 3 EVICT, -1 not yet arrived) of the token in the last layer after the step.
     */
    public record PopularitySnapshot(String policy, String position, String questionType, int promptTokens,
                                     byte[][] levels) {
    }

    /** The row for a policy, position and type over all rounds, or null. */
    public EvalRow row(String policy, String position, String type) {
        return row(policy, position, "all", type);
    }

    /** The row for a policy, position, round ({@code 1}, ... or {@code all}) and type, or null. */
    public EvalRow row(String policy, String position, String round, String type) {
        for (EvalRow r : rows) {
            if (r.policy().equals(policy) && r.position().equals(position) && r.round().equals(round) && r.questionType().equals(type)) {
                return r;
            }
        }
        return null;
    }
}

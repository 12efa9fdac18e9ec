package io.tierkv.model.eval;

import java.util.List;

/** The KV-size curve of a policy and position from its prompts' per-step sizes. */
final class SizeCurves {
    private SizeCurves() {
    }

    /**
     * Mean live tokens per layer after each step over the prompts still running then; the curve stops at
     * the last step that at least half the prompts reach, so that its tail is not the mean of a few
     * long-running prompts (prompts that stopped are not averaged in as zeros, nor as their last size).
     */
    static EvalResult.SizeCurve curve(String policy, String position, List<double[]> runs) {
        int n = 0;
        for (double[] c : runs) {
            n = Math.max(n, c.length);
        }
        double[] sum = new double[n];
        int[] count = new int[n];
        for (double[] c : runs) {
            for (int i = 0; i < c.length; i++) {
                sum[i] += c[i];
                count[i]++;
            }
        }
        int end = 0;
        while (end < n && 2 * count[end] >= runs.size()) {
            end++;
        }
        double[] mean = new double[end];
        int[] running = new int[end];
        for (int i = 0; i < end; i++) {
            mean[i] = sum[i] / count[i];
            running[i] = count[i];
        }
        return new EvalResult.SizeCurve(policy, position, mean, running);
    }
}

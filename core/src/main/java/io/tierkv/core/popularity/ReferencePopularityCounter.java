package io.tierkv.core.popularity;

import java.util.Arrays;

/**
 * The simplest correct counter: sum the heads, sort all positions by (score desc, position asc), keep
 * the first k. O(n log n) and allocating; it is the oracle of the conformance tests, not a hot path.
 */
public final class ReferencePopularityCounter implements PopularityCounter {

    @Override
    public String name() {
        return "reference";
    }

    @Override
    public int selectTopK(float[] probs, int offset, int heads, int stride, int keys, int k, int[] out) {
        PopularityCounter.checkArguments(probs, offset, heads, stride, keys, k, out);
        float[] score = new float[keys];
        for (int h = 0; h < heads; h++) {
            int row = offset + h * stride;
            for (int t = 0; t < keys; t++) {
                score[t] += probs[row + t];
            }
        }
        Integer[] order = new Integer[keys];
        for (int t = 0; t < keys; t++) {
            order[t] = t;
        }
        Arrays.sort(order, (a, b) -> {
            int c = Float.compare(score[b], score[a]);
            return c != 0 ? c : Integer.compare(a, b);
        });
        int n = Math.min(k, keys);
        for (int i = 0; i < n; i++) {
            out[i] = order[i];
        }
        Arrays.sort(out, 0, n);
        return n;
    }
}

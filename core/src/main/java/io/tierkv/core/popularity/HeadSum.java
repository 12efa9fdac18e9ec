package io.tierkv.core.popularity;

/**
 * Sums attention rows over heads into a score per key: {@code score[t] = 0 + p[0][t] + ... + p[H-1][t]},
 * in that order, so that every implementation rounds identically.
 */
interface HeadSum {
    void sum(float[] probs, int offset, int heads, int stride, int keys, float[] score);

    /** The plain loop; the Vector API version must agree with it bit for bit. */
    final class Scalar implements HeadSum {
        @Override
        public void sum(float[] probs, int offset, int heads, int stride, int keys, float[] score) {
            java.util.Arrays.fill(score, 0, keys, 0.0f);
            for (int h = 0; h < heads; h++) {
                int row = offset + h * stride;
                for (int t = 0; t < keys; t++) {
                    score[t] += probs[row + t];
                }
            }
        }
    }
}

package io.tierkv.core.popularity;

/**
 * The two loops of the counter that the Vector API speeds up. {@link #sum} sums attention rows over
 * heads into a score per key: {@code score[t] = 0 + p[0][t] + ... + p[H-1][t]}, in that order, so that
 * every implementation rounds identically. {@link #nextAtLeast} is the selection's filter: most scores
 * cannot enter the top-k, and a vector compare rejects a whole vector of them at once.
 */
interface HeadSum {
    void sum(float[] probs, int offset, int heads, int stride, int keys, float[] score);

    /** The first index in {@code [from, to)} whose value is {@code >= threshold}, or {@code to}. */
    int nextAtLeast(float[] values, int from, int to, float threshold);

    /**
     * Without the Vector API: in chunks of {@link #CHUNK} keys, each head's slice is copied into an
     * L1-resident row and added to an L1-resident accumulator with {@code acc[i] = acc[i] + row[i]},
     * a same-index loop that C2 vectorises by itself. Each key still adds its heads in order from
     * 0.0f, so the result is the plain loop's, bit for bit. C2 does not vectorise the direct
     * {@code score[t] += p[h][t]} (a load at another offset of an array that might be {@code score}),
     * hence the copy. Measured on the 2-core AMD EPYC build machine, JDK 17, [32 x 32768], best of 15
     * rounds: 0.10 ms; 0.15 ms for sixteen keys in sixteen registers across all heads; 0.45 ms for the
     * row-by-row loop. Not thread-safe (scratch rows).
     */
    final class Scalar implements HeadSum {
        /** Keys per chunk: two 16 KiB scratch rows in L1 (best of 512 to 8192 measured). */
        static final int CHUNK = 4096;
        private final float[] acc = new float[CHUNK];
        private final float[] row = new float[CHUNK];

        @Override
        public void sum(float[] probs, int offset, int heads, int stride, int keys, float[] score) {
            for (int t0 = 0; t0 < keys; t0 += CHUNK) {
                int n = Math.min(CHUNK, keys - t0);
                java.util.Arrays.fill(acc, 0, n, 0.0f);
                for (int h = 0; h < heads; h++) {
                    System.arraycopy(probs, offset + h * stride + t0, row, 0, n);
                    addInto(acc, row, n);
                }
                System.arraycopy(acc, 0, score, t0, n);
            }
        }

        private static void addInto(float[] acc, float[] row, int n) {
            for (int i = 0; i < n; i++) {
                acc[i] = acc[i] + row[i];
            }
        }

        @Override
        public int nextAtLeast(float[] values, int from, int to, float threshold) {
            int i = from;
            while (i < to && !(values[i] >= threshold)) {
                i++;
            }
            return i;
        }
    }
}

package io.tierkv.core.popularity;

import java.util.SplittableRandom;

/** Attention-like inputs for the popularity benchmarks, the same everywhere they are timed. */
public final class SyntheticAttention {
    private SyntheticAttention() {
    }

    /**
     * {@code rows} rows of softmax(3 N(0, 1)) over {@code tokens} keys, row-major: log-normal logits, so a
     * few keys take most of the mass, the skewed shape attention probabilities have.
     */
    public static float[] softmaxRows(int rows, int tokens, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] p = new float[rows * tokens];
        double[] e = new double[tokens];
        for (int r = 0; r < rows; r++) {
            double s = 0;
            for (int t = 0; t < tokens; t++) {
                e[t] = Math.exp(3 * rnd.nextGaussian());
                s += e[t];
            }
            for (int t = 0; t < tokens; t++) {
                p[r * tokens + t] = (float) (e[t] / s);
            }
        }
        return p;
    }
}

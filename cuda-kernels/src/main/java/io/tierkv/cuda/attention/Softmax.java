package io.tierkv.cuda.attention;

/**
 * Row softmax, the CPU version of {@code softmax_rows} in {@code attention.cu}, with the same formula:
 * {@code m = max; s = sum exp(x - m); p = exp(x - m) * (1 / s)}. Scalar on purpose: {@link Math#exp} is
 * an intrinsic, and the Vector API's {@code EXP} has no fast path on JDK 17 (see the module README),
 * so the softmax stays a small share of the scores' time.
 */
public final class Softmax {
    private Softmax() {
    }

    /** Softmax of {@code rows} rows of {@code cols} values, {@code stride} apart, from {@code in} into {@code out} (may alias). */
    public static void rows(float[] in, int inOffset, int rows, int cols, int stride, float[] out, int outOffset) {
        for (int r = 0; r < rows; r++) {
            int i = inOffset + r * stride;
            int o = outOffset + r * stride;
            float m = Float.NEGATIVE_INFINITY;
            for (int t = 0; t < cols; t++) {
                m = Math.max(m, in[i + t]);
            }
            float s = 0.0f;
            for (int t = 0; t < cols; t++) {
                float e = (float) Math.exp(in[i + t] - m);
                out[o + t] = e;
                s += e;
            }
            float inv = 1.0f / s;
            for (int t = 0; t < cols; t++) {
                out[o + t] *= inv;
            }
        }
    }
}

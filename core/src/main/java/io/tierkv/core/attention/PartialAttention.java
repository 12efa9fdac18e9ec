package io.tierkv.core.attention;

/**
 * One query head's attention over a part of the keys, and the exact merge of parts, as split-K flash
 * decoding does it. A part of n keys gives its softmax-weighted value average {@code o} and the log-sum-exp
 * of its scores {@code lse = m + ln sum_i exp(s_i - m)} (m the part's largest score); two parts merge into
 * the average over both with
 *
 * <pre>
 *   lse  = M + ln(e^(lse_a - M) + e^(lse_b - M)),      M = max(lse_a, lse_b)
 *   o    = e^(lse_a - lse) o_a + e^(lse_b - lse) o_b
 * </pre>
 *
 * which is the dense softmax over the union, in any order of merging. An empty part has {@code lse = -inf}
 * and leaves the other unchanged. Only d + 1 floats per query head cross between parts, so a part can be
 * computed where its keys lie (a device block, a host block) and nothing is copied to be read elsewhere.
 *
 * <p>Arrays with offsets and a row stride, so that an engine passes its own buffers: key row {@code r}
 * starts at {@code offset + r * stride}. Scalar loops; the JIT vectorises the dot products' sums poorly,
 * but this is the reference form (TierKV's own decoder does the same on libtorch).
 */
public final class PartialAttention {
    private PartialAttention() {
    }

    /**
     * Attention of query {@code q[qOffset, qOffset + d)} over {@code n} key and value rows; writes the
     * normalised output into {@code out[outOffset, outOffset + d)} and returns the part's log-sum-exp
     * ({@code -inf} and a zero output when {@code n == 0}).
     *
     * @param scale  the score scale, usually {@code 1 / sqrt(d)}
     * @param stride floats from one key (and value) row to the next
     */
    public static float attend(float[] q, int qOffset, float[] keys, float[] values, int kvOffset, int stride, int n, int d,
                               float scale, float[] out, int outOffset) {
        java.util.Arrays.fill(out, outOffset, outOffset + d, 0f);
        if (n == 0) {
            return Float.NEGATIVE_INFINITY;
        }
        float max = Float.NEGATIVE_INFINITY;
        float[] scores = new float[n];
        for (int r = 0; r < n; r++) {
            int k = kvOffset + r * stride;
            float s = 0;
            for (int i = 0; i < d; i++) {
                s += q[qOffset + i] * keys[k + i];
            }
            scores[r] = s * scale;
            max = Math.max(max, scores[r]);
        }
        double sum = 0;
        for (int r = 0; r < n; r++) {
            float w = (float) Math.exp(scores[r] - max);
            sum += w;
            int v = kvOffset + r * stride;
            for (int i = 0; i < d; i++) {
                out[outOffset + i] += w * values[v + i];
            }
        }
        float inv = (float) (1.0 / sum);
        for (int i = 0; i < d; i++) {
            out[outOffset + i] *= inv;
        }
        return (float) (max + Math.log(sum));
    }

    /**
     * Merges part b into part a: {@code outA} becomes the output over both parts; returns their joint
     * log-sum-exp.
     */
    public static float merge(float[] outA, int aOffset, float lseA, float[] outB, int bOffset, float lseB, int d) {
        if (lseB == Float.NEGATIVE_INFINITY) {
            return lseA;
        }
        if (lseA == Float.NEGATIVE_INFINITY) {
            System.arraycopy(outB, bOffset, outA, aOffset, d);
            return lseB;
        }
        float m = Math.max(lseA, lseB);
        double wa = Math.exp(lseA - m);
        double wb = Math.exp(lseB - m);
        double total = wa + wb;
        float fa = (float) (wa / total);
        float fb = (float) (wb / total);
        for (int i = 0; i < d; i++) {
            outA[aOffset + i] = fa * outA[aOffset + i] + fb * outB[bOffset + i];
        }
        return (float) (m + Math.log(total));
    }
}

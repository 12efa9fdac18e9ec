package io.tierkv.core.attention;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import org.junit.jupiter.api.Test;

class PartialAttentionTest {
    private static final int D = 16;

    /** The oracle: softmax over all n scores, then the weighted sum of values, in double. */
    private static float[] dense(float[] q, float[] k, float[] v, int n, float scale) {
        double[] s = new double[n];
        double max = Double.NEGATIVE_INFINITY;
        for (int r = 0; r < n; r++) {
            for (int i = 0; i < D; i++) {
                s[r] += q[i] * k[r * D + i];
            }
            s[r] *= scale;
            max = Math.max(max, s[r]);
        }
        double sum = 0;
        for (int r = 0; r < n; r++) {
            sum += Math.exp(s[r] - max);
        }
        float[] out = new float[D];
        for (int r = 0; r < n; r++) {
            double p = Math.exp(s[r] - max) / sum;
            for (int i = 0; i < D; i++) {
                out[i] += (float) (p * v[r * D + i]);
            }
        }
        return out;
    }

    private static float[] randoms(Random rnd, int n, float std) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) rnd.nextGaussian() * std;
        }
        return a;
    }

    @Test
    void mergeOfParts_equalsTheDenseSoftmax_forRandomSplitsIncludingEmptyParts() {
        Random rnd = new Random(42);
        float scale = (float) (1 / Math.sqrt(D));
        for (int trial = 0; trial < 200; trial++) {
            int n = 1 + rnd.nextInt(64);
            float[] q = randoms(rnd, D, 2f);
            float[] k = randoms(rnd, n * D, 2f);
            float[] v = randoms(rnd, n * D, 1f);
            float[] expected = dense(q, k, v, n, scale);
            // cut [0, n) into up to 4 parts at random points (some empty), attend each, merge left to right
            int parts = 1 + rnd.nextInt(4);
            int[] cuts = new int[parts + 1];
            cuts[parts] = n;
            for (int p = 1; p < parts; p++) {
                cuts[p] = Math.max(cuts[p - 1], rnd.nextInt(n + 1));
            }
            float[] acc = new float[D];
            float lse = Float.NEGATIVE_INFINITY;
            float[] part = new float[D];
            for (int p = 0; p < parts; p++) {
                int len = Math.max(0, cuts[p + 1] - cuts[p]);
                float l = PartialAttention.attend(q, 0, k, v, cuts[p] * D, D, len, D, scale, part, 0);
                lse = PartialAttention.merge(acc, 0, lse, part, 0, l, D);
            }
            assertArrayEquals(expected, acc, 1e-5f, "trial " + trial + ", " + parts + " parts of " + n + " keys");
        }
    }

    @Test
    void lse_ofTheMerge_isTheLseOfTheWhole() {
        Random rnd = new Random(7);
        int n = 40;
        float[] q = randoms(rnd, D, 1f);
        float[] k = randoms(rnd, n * D, 1f);
        float[] v = randoms(rnd, n * D, 1f);
        float[] whole = new float[D];
        float lseWhole = PartialAttention.attend(q, 0, k, v, 0, D, n, D, 0.25f, whole, 0);
        float[] a = new float[D];
        float[] b = new float[D];
        float lseA = PartialAttention.attend(q, 0, k, v, 0, D, 13, D, 0.25f, a, 0);
        float lseB = PartialAttention.attend(q, 0, k, v, 13 * D, D, n - 13, D, 0.25f, b, 0);
        // merged b-into-a and a-into-b agree: the order of parts does not matter
        float[] bOnly = b.clone();
        float lseBa = PartialAttention.merge(b, 0, lseB, a.clone(), 0, lseA, D);
        assertEquals(lseWhole, PartialAttention.merge(a, 0, lseA, bOnly, 0, lseB, D), 1e-5f);
        assertEquals(lseWhole, lseBa, 1e-5f);
        assertArrayEquals(whole, a, 1e-5f);
        assertArrayEquals(whole, b, 1e-5f);
    }

    @Test
    void attend_emptyPart_isNegativeInfinityAndLeavesTheOtherUnchanged() {
        float[] out = {9, 9};
        assertEquals(Float.NEGATIVE_INFINITY, PartialAttention.attend(new float[2], 0, new float[0], new float[0], 0, 2, 0, 2, 1f, out, 0));
        assertArrayEquals(new float[] {0, 0}, out);
        float[] acc = {1, 2};
        assertEquals(0.5f, PartialAttention.merge(acc, 0, 0.5f, out, 0, Float.NEGATIVE_INFINITY, 2));
        assertArrayEquals(new float[] {1, 2}, acc);
    }
}

package io.tierkv.core.popularity;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.Arrays;
import java.util.Random;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The fast counter, on both its scalar and its Vector API path, against the reference (the oracle) on
 * seeded random inputs: quantised values so that ties are everywhere, key counts around the vector
 * length (16 floats with AVX-512, 8 with AVX2), k from 1 to beyond the keys, strides wider than the keys
 * and rows at an offset. The answer must be identical, position for position.
 */
class FastPopularityCounterConformanceTest {
    private static final int[] KEYS = {1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 100, 257, 1000};

    static Stream<Arguments> paths() {
        return Stream.of(Arguments.of(false), Arguments.of(true));
    }

    private static FastPopularityCounter fast(boolean vector) {
        if (vector) {
            assumeTrue(VectorSupport.available(), "Vector API not in this JVM");
        }
        FastPopularityCounter c = new FastPopularityCounter(vector);
        assertEquals(vector ? "java-vector" : "java-scalar", c.name());
        return c;
    }

    /** Random probs: quantised to {@code levels} values (ties), or full floats when levels is 0. */
    private static float[] randomProbs(Random r, int length, int levels) {
        float[] p = new float[length];
        for (int i = 0; i < length; i++) {
            p[i] = levels == 0 ? r.nextFloat() : r.nextInt(levels) / (float) levels;
        }
        return p;
    }

    @ParameterizedTest(name = "vector={0}")
    @MethodSource("paths")
    void fast_equalsReference_onRandomQuantisedInputs(boolean vector) {
        FastPopularityCounter fast = fast(vector);
        ReferencePopularityCounter ref = new ReferencePopularityCounter();
        Random r = new Random(42);
        int cases = 0;
        for (int keys : KEYS) {
            for (int levels : new int[] {2, 4, 16, 0}) {
                for (int heads : new int[] {1, 2, 3, 8}) {
                    int pad = r.nextInt(20);
                    int stride = keys + pad;
                    int offset = r.nextInt(5);
                    float[] probs = randomProbs(r, offset + heads * stride + r.nextInt(3), levels);
                    for (int k : new int[] {1, 2, 8, keys - 1, keys, keys + 1, 3 * keys}) {
                        if (k <= 0) {
                            continue;
                        }
                        int[] expected = new int[Math.min(k, keys)];
                        int[] actual = new int[Math.min(k, keys)];
                        int ne = ref.selectTopK(probs, offset, heads, stride, keys, k, expected);
                        int na = fast.selectTopK(probs, offset, heads, stride, keys, k, actual);
                        String where = "keys=" + keys + " levels=" + levels + " heads=" + heads + " stride=" + stride
                                + " offset=" + offset + " k=" + k;
                        assertEquals(ne, na, where);
                        assertArrayEquals(expected, actual, where);
                        cases++;
                    }
                }
            }
        }
        assertEquals(KEYS.length * 4 * 4 * 7 - 4 * 4 /* keys=1, k=keys-1=0 */, cases);
    }

    @ParameterizedTest(name = "vector={0}")
    @MethodSource("paths")
    void fast_reusedAcrossShrinkingAndGrowingInputs_staysEqualToReference(boolean vector) {
        // One instance keeps scratch arrays between calls; a long call followed by a short one must not
        // let stale scores of the long one leak in.
        FastPopularityCounter fast = fast(vector);
        ReferencePopularityCounter ref = new ReferencePopularityCounter();
        Random r = new Random(7);
        for (int i = 0; i < 300; i++) {
            int keys = 1 + r.nextInt(i % 2 == 0 ? 600 : 20);
            int heads = 1 + r.nextInt(4);
            int k = 1 + r.nextInt(40);
            float[] probs = randomProbs(r, heads * keys, 3);
            int[] e = new int[Math.min(k, keys)];
            int[] a = new int[Math.min(k, keys)];
            assertEquals(ref.selectTopK(probs, 0, heads, keys, keys, k, e), fast.selectTopK(probs, 0, heads, keys, keys, k, a));
            assertArrayEquals(e, a, "call " + i);
        }
    }

    @ParameterizedTest(name = "vector={0}")
    @MethodSource("paths")
    void fast_countsLikeReference_overManyQueries(boolean vector) {
        FastPopularityCounter fast = fast(vector);
        ReferencePopularityCounter ref = new ReferencePopularityCounter();
        Random r = new Random(3);
        int keys = 77;
        int[] ce = new int[keys];
        int[] ca = new int[keys];
        int[] out = new int[8];
        for (int q = 0; q < 200; q++) {
            float[] probs = randomProbs(r, 4 * keys, 5);
            ref.count(probs, 0, 4, keys, keys, 8, out, ce);
            fast.count(probs, 0, 4, keys, keys, 8, out, ca);
        }
        assertArrayEquals(ce, ca);
        assertEquals(200 * 8, IntStream.of(ca).sum());
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 5, 15, 16, 17, 63, 64, 65, 1000})
    void vectorHeadSum_equalsScalarHeadSum_bitForBit(int keys) {
        assumeTrue(VectorSupport.available(), "Vector API not in this JVM");
        HeadSum vector = VectorSupport.load("io.tierkv.core.popularity.VectorHeadSum", HeadSum.class);
        HeadSum scalar = new HeadSum.Scalar();
        Random r = new Random(keys);
        int heads = 7;
        int stride = keys + 3;
        int offset = 2;
        float[] probs = randomProbs(r, offset + heads * stride, 0);
        float[] sv = new float[keys + 4];
        float[] ss = new float[keys + 4];
        Arrays.fill(sv, Float.NaN); // entries past keys must be left alone by both
        Arrays.fill(ss, Float.NaN);
        vector.sum(probs, offset, heads, stride, keys, sv);
        scalar.sum(probs, offset, heads, stride, keys, ss);
        for (int t = 0; t < keys + 4; t++) {
            assertEquals(Float.floatToRawIntBits(ss[t]), Float.floatToRawIntBits(sv[t]), "key " + t);
        }
    }

    @Test
    void select_onNegativeAndSignedZeroScores_ordersLikeFloatCompare() {
        // Not probabilities, but select() is public (SnapKV and H2O rank pooled votes with it): it must
        // follow Float.compare, where +0.0 > -0.0, and prefer the lower position on equal scores.
        FastPopularityCounter fast = new FastPopularityCounter(false);
        float[] scores = {-1f, -0.0f, 0.0f, -2f, -0.0f, 0.0f, Float.NEGATIVE_INFINITY};
        int[] out = new int[7];
        assertEquals(1, fast.select(scores, 7, 1, out));
        assertEquals(2, out[0]); // +0.0 at 2 beats the later +0.0 at 5 (tie) and every -0.0
        assertEquals(3, fast.select(scores, 7, 3, out));
        assertArrayEquals(new int[] {1, 2, 5}, Arrays.copyOf(out, 3)); // then -0.0 at 1 (lower than 4)
        assertEquals(6, fast.select(scores, 7, 6, out));
        assertArrayEquals(new int[] {0, 1, 2, 3, 4, 5}, Arrays.copyOf(out, 6)); // -inf at 6 is last
    }
}

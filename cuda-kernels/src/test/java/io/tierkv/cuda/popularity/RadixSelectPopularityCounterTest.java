package io.tierkv.cuda.popularity;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The pieces of the kernel's algorithm, mirrored in Java. */
class RadixSelectPopularityCounterTest {

    @Test
    void orderedScore_ordersLikeFloatCompare() {
        float[] values = {Float.NEGATIVE_INFINITY, -3.5f, -Float.MIN_VALUE, -0.0f, 0.0f, Float.MIN_VALUE, 1e-30f, 0.5f, 1f,
            Float.MAX_VALUE, Float.POSITIVE_INFINITY};
        for (int i = 0; i + 1 < values.length; i++) {
            int a = RadixSelectPopularityCounter.orderedScore(values[i]);
            int b = RadixSelectPopularityCounter.orderedScore(values[i + 1]);
            assertTrue(Integer.compareUnsigned(a, b) < 0, values[i] + " < " + values[i + 1]);
        }
    }

    @Test
    void composite_ranksEqualScoresByLowerPositionFirst() {
        int s = RadixSelectPopularityCounter.orderedScore(0.25f);
        long early = RadixSelectPopularityCounter.composite(s, 3);
        long late = RadixSelectPopularityCounter.composite(s, 4);
        assertTrue(Long.compareUnsigned(early, late) > 0);
        assertEquals(3, RadixSelectPopularityCounter.positionOf(early));
        assertEquals(Integer.MAX_VALUE, RadixSelectPopularityCounter.positionOf(RadixSelectPopularityCounter.composite(s, Integer.MAX_VALUE)));
    }

    @Test
    void chooseDigit_findsTheBinWhereTheCountCrossesNeed() {
        int[] bins = new int[2048];
        bins[2047] = 3;   // top bin, owned by thread 0
        bins[1500] = 10;
        bins[7] = 5;      // owned by thread 255
        // need 1..3 -> bin 2047 with 0 above; 4..13 -> bin 1500 with 3 above; 14..18 -> bin 7 with 13 above
        assertEquals((2047L << 32) | 0, RadixSelectPopularityCounter.chooseDigit(bins, 2048, 3));
        assertEquals((1500L << 32) | 3, RadixSelectPopularityCounter.chooseDigit(bins, 2048, 4));
        assertEquals((1500L << 32) | 3, RadixSelectPopularityCounter.chooseDigit(bins, 2048, 13));
        assertEquals((7L << 32) | 13, RadixSelectPopularityCounter.chooseDigit(bins, 2048, 18));
        assertThrows(IllegalStateException.class, () -> RadixSelectPopularityCounter.chooseDigit(bins, 2048, 19));
    }

    @Test
    void chooseDigit_withTheLastPassesNineBits_usesTwoBinsPerThread() {
        int[] bins = new int[512];
        bins[0] = 2;
        bins[511] = 1;
        assertEquals((0L << 32) | 1, RadixSelectPopularityCounter.chooseDigit(bins, 512, 2));
    }

    @Test
    void tiesAroundTheRankLimit_selectLikeTheReference_byRankAndByRadixPasses() {
        // All scores equal: every key is a candidate of one bin (ties go to the lower position), so 256 keys take the
        // rank path and 257 the radix passes.
        for (int keys : new int[] {RadixSelectPopularityCounter.RANK_CANDIDATES, RadixSelectPopularityCounter.RANK_CANDIDATES + 1}) {
            float[] probs = new float[2 * keys];
            java.util.Arrays.fill(probs, 0.25f);
            int[] expected = new int[9];
            int[] actual = new int[9];
            int n = new io.tierkv.core.popularity.ReferencePopularityCounter().selectTopK(probs, 0, 2, keys, keys, 9, expected);
            assertEquals(n, new RadixSelectPopularityCounter().selectTopK(probs, 0, 2, keys, keys, 9, actual));
            org.junit.jupiter.api.Assertions.assertArrayEquals(expected, actual, keys + " keys");
        }
    }
}

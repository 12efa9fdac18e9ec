package io.tierkv.model.generate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** {@code select=head}: every KV head's own selection of host block slices from the blocks' bounds. */
class HostBlockSelectorTest {
    private static HostBlockSelector selector(String spec, int heads, int kvHeads) {
        return new HostBlockSelector(HostRead.parse(spec), null, new HostReadStats(1), heads, kvHeads, 8, 16);
    }

    /** Head {@code kh}'s value of block i by brute force: log sum over its query heads of exp(bound - that head's best). */
    private static double value(float[] bounds, int n, int heads, int group, int i, int kh) {
        double sum = 0;
        for (int h = kh * group; h < (kh + 1) * group; h++) {
            float best = Float.NEGATIVE_INFINITY;
            for (int j = 0; j < n; j++) {
                best = Math.max(best, bounds[j * heads + h]);
            }
            sum += Math.exp(bounds[i * heads + h] - best);
        }
        return Math.log(sum);
    }

    /** Head {@code kh}'s blocks, best value first (the lower index first on a tie). */
    private static List<Integer> order(float[] bounds, int n, int heads, int group, int kh) {
        List<Integer> blocks = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            blocks.add(i);
        }
        blocks.sort(Comparator.<Integer>comparingDouble(i -> -value(bounds, n, heads, group, i, kh)).thenComparing(i -> i));
        return blocks;
    }

    @Test
    void equallySpreadHeads_eachReadTheirBruteForceTopBlocks() {
        SplittableRandom rnd = new SplittableRandom(3);
        int n = 12;
        int heads = 4;
        for (int trial = 0; trial < 50; trial++) {
            // every head sees the same bounds up to its own order and shift: the slices split evenly, 3 per head
            float[] base = new float[n];
            for (int i = 0; i < n; i++) {
                base[i] = (float) (rnd.nextGaussian() * 3);
            }
            float[] bounds = new float[n * heads];
            int[][] perm = new int[heads][];
            for (int h = 0; h < heads; h++) {
                perm[h] = rnd.ints(0, Integer.MAX_VALUE).limit(n).toArray();
                Integer[] idx = new Integer[n];
                for (int i = 0; i < n; i++) {
                    idx[i] = i;
                }
                final int[] key = perm[h];
                java.util.Arrays.sort(idx, Comparator.comparingInt(i -> key[i]));
                float shift = (float) rnd.nextGaussian() * 10;
                for (int i = 0; i < n; i++) {
                    bounds[idx[i] * heads + h] = base[i] + shift;
                }
            }
            HostBlockSelector s = selector("digest:select=head,blocks=3", heads, heads);
            assertEquals(12, s.chooseHeads(bounds, n));
            for (int h = 0; h < heads; h++) {
                List<Integer> top = order(bounds, n, heads, 1, h).subList(0, 3);
                for (int i = 0; i < n; i++) {
                    assertEquals(top.contains(i), s.headChosen(i, h), "trial " + trial + " head " + h + " block " + i);
                }
            }
        }
    }

    @Test
    void randomBounds_everyHeadReadsAPrefixOfItsOwnRanking_atLeastItsBest_andTheSlicesAddUp() {
        SplittableRandom rnd = new SplittableRandom(7);
        int n = 15;
        int heads = 8;
        int kvHeads = 4; // two query heads per KV head
        for (int trial = 0; trial < 100; trial++) {
            float[] bounds = new float[n * heads];
            for (int i = 0; i < bounds.length; i++) {
                bounds[i] = (float) (rnd.nextGaussian() * 2);
            }
            HostBlockSelector s = selector("digest:select=head,slices=9", heads, kvHeads);
            assertEquals(9, s.chooseHeads(bounds, n));
            int total = 0;
            double weakestChosen = Double.POSITIVE_INFINITY;
            double strongestLeft = Double.NEGATIVE_INFINITY;
            for (int kh = 0; kh < kvHeads; kh++) {
                List<Integer> ranking = order(bounds, n, heads, 2, kh);
                int count = 0;
                for (int i = 0; i < n; i++) {
                    count += s.headChosen(i, kh) ? 1 : 0;
                }
                assertTrue(count >= 1, "KV head " + kh + " reads its best block");
                for (int j = 0; j < n; j++) {
                    assertEquals(j < count, s.headChosen(ranking.get(j), kh), "KV head " + kh + " reads the top " + count + " of its ranking");
                    double v = value(bounds, n, heads, 2, ranking.get(j), kh);
                    if (j > 0 && j < count) {
                        weakestChosen = Math.min(weakestChosen, v);
                    }
                    if (j >= count) {
                        strongestLeft = Math.max(strongestLeft, v);
                    }
                }
                total += count;
            }
            assertEquals(9, total);
            // past each head's best, the slices went to the highest values over all heads
            assertTrue(weakestChosen == Double.POSITIVE_INFINITY || weakestChosen >= strongestLeft - 1e-6,
                    "a slice worth " + strongestLeft + " was left for one worth " + weakestChosen);
        }
    }

    @Test
    void aHeadWithFlatBounds_getsTheSpareSlices_andOneWithAClearWinnerOnlyItsBest() {
        int n = 6;
        int heads = 2;
        float[] bounds = new float[n * heads];
        for (int i = 0; i < n; i++) {
            bounds[i * heads] = i == 2 ? 10f : -10f;   // head 0: block 2 dominates
            bounds[i * heads + 1] = 1f - 0.01f * i;    // head 1: every block may matter
        }
        HostBlockSelector s = selector("digest:select=head,slices=5", heads, heads);
        assertEquals(5, s.chooseHeads(bounds, n));
        for (int i = 0; i < n; i++) {
            assertEquals(i == 2, s.headChosen(i, 0), "head 0, block " + i);
            assertEquals(i < 4, s.headChosen(i, 1), "head 1, block " + i);
        }
    }

    @Test
    void min_gatesSlicesPastEachHeadsBest_byTheirValue() {
        int n = 5;
        int heads = 1;
        float[] bounds = {0f, (float) Math.log(0.6), (float) Math.log(0.4), (float) Math.log(0.55), -20f};
        HostBlockSelector s = selector("digest:select=head,slices=5,min=0.5", heads, heads);
        assertEquals(3, s.chooseHeads(bounds, n), "the best, and the two worth at least half of it");
        assertTrue(s.headChosen(0, 0) && s.headChosen(1, 0) && s.headChosen(3, 0));
        assertEquals(5, selector("digest:select=head,slices=5", heads, heads).chooseHeads(bounds, n), "no min: the whole cap");
    }

    @Test
    void aBlockWithoutDigest_isReadByEveryHead() {
        int n = 4;
        int heads = 2;
        float[] bounds = {1f, 1f, Float.POSITIVE_INFINITY, Float.POSITIVE_INFINITY, 3f, 3f, 0f, 0f};
        HostBlockSelector s = selector("digest:select=head,slices=2", heads, heads);
        assertEquals(2, s.chooseHeads(bounds, n));
        assertTrue(s.headChosen(1, 0) && s.headChosen(1, 1), "block 1 has no digest yet");
    }

    @Test
    void keys_keepTheCandidatesWithTheBestExactScores_neverASliceWhoseKeysWereNotRead() {
        int n = 4;
        int heads = 2; // one query head per KV head
        // digest bounds, (block, head): head 0 ranks 0 > 1 > 2 > 3, head 1 ranks 0 > 2 > 1 > 3
        float[] bounds = {10f, 10f, 9f, 5f, 8f, 9.5f, 1f, 0f};
        HostBlockSelector s = selector("digest:select=head,slices=2,keys=4", heads, heads);
        assertEquals(4, s.chooseHeads(bounds, n, 4), "the first stage scores 4 slices' keys");
        // candidates: each head its best (block 0), then the closest: head 1's block 2 (-0.5), head 0's block 1 (-1)
        assertTrue(s.headChosen(0, 0) && s.headChosen(1, 0) && s.headChosen(0, 1) && s.headChosen(2, 1));
        // exact best scores: the digests left out head 0's blocks 2 and 3 and head 1's block 1, which score highest
        float[] exact = {1f, 2f, 3f, 100f, 100f, 1f, 50f, 0f};
        assertEquals(2, s.refine(exact, n, 4), "slices=2 read whole");
        for (int i = 0; i < n; i++) {
            assertEquals(i == 1, s.headChosen(i, 0), "head 0 reads its best candidate by exact score, block 1; block " + i);
            assertEquals(i == 0, s.headChosen(i, 1), "head 1 reads its best candidate by exact score, block 0; block " + i);
        }
    }
}

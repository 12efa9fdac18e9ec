package io.tierkv.cuda.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.core.DType;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * {@code paged_attention.cu}'s algorithm, step for step in Java (float arithmetic, the same launch plan, the same
 * thread/lane/row mapping per tile, byte addresses and their 16-byte alignment, the per-tile online softmax, the
 * accumulator reduction, the partials, the arrival counter and the last CTA's merge, CTAs finishing in a random
 * order, the same treatment of -inf, the per-row and per-(entry, KV head) masks), held to
 * {@link ReferenceOps#pagedAttention}. This is how the kernel's indexing and merging logic is tested without a GPU;
 * the {@code gpu} test then holds the kernel itself to the same oracle.
 */
class PagedAttentionMirrorTest {
    static final int THREADS = LaunchPlans.ATTENTION_THREADS;
    static final int WARPS = LaunchPlans.ATTENTION_WARPS;
    static final int ROWS = LaunchPlans.ATTENTION_ROWS_PER_THREAD;

    static float expDiff(float a, float b) {
        return a == Float.NEGATIVE_INFINITY ? 0f : (float) Math.exp(a - b);
    }

    /** The kernel's liveRow for KV head g: the byte address (from the slab's base) of row i's K row, KV head 0, or -1. */
    static long liveRow(int i, int b0, int g, PagedKvShape s, int[] slots, int[] valid, byte[] mask, byte[] headMask, int capacity) {
        int q = i / s.blockSize();
        int b = b0 + q;
        int r = i - q * s.blockSize();
        int rows = valid != null ? valid[b] : s.blockSize();
        if (r >= rows || (headMask != null && headMask[b * s.kvHeads() + g] == 0)
                || (mask != null && mask[b * s.blockSize() + r] != 0)) {
            return -1;
        }
        int slot = slots[b];
        if (slot < 0 || slot >= capacity) {
            return -1;
        }
        return slot * s.slotBytes() + (long) r * s.kvHeads() * s.headDim() * s.dtype().bytes();
    }

    /** 8 floats at byte address {@code at} of an F32 slab, read as the kernel's two 16-byte loads. */
    static float[] chunk(float[] slab, long at) {
        assertEquals(0, at % 16, "16-byte aligned load at " + at);
        float[] f = new float[8];
        for (int e = 0; e < 8; e++) {
            f[e] = slab[(int) (at / 4) + e];
        }
        return f;
    }

    static ReferenceOps.Attention mirror(PagedKvShape s, float[] q, float[] slab, int capacity, int[] slots, int[] valid, byte[] mask,
                                         byte[] headMask, int nBlocks, float scale, int sms, Random order) {
        int heads = s.heads();
        int hd = s.headDim();
        int group = s.group();
        float[] out = new float[heads * hd];
        float[] lse = new float[heads];
        if (nBlocks == 0) { // attention_empty
            java.util.Arrays.fill(lse, Float.NEGATIVE_INFINITY);
            return new ReferenceOps.Attention(out, lse);
        }
        LaunchPlans.AttentionPlan plan = LaunchPlans.pagedAttention(nBlocks, s.blockSize(), s.kvHeads(), group, hd, sms);
        int g8 = plan.headsPerCta();
        int chunks = plan.headChunks();
        int splits = plan.splits();
        int perSplit = plan.blocksPerSplit();
        int tile = plan.tileRows();
        int c8 = hd / 8;
        int lanesPerRow = Integer.highestOneBit(2 * c8 - 1);
        int rowsPerWarp = 32 / lanesPerRow;
        assertEquals(ROWS * WARPS * rowsPerWarp, tile, "tile rows");
        int d4 = hd / 4;
        int slices = THREADS / d4;
        int redFloats = Math.max(WARPS, slices) * g8 * hd;
        assertEquals(4 * (g8 * tile + redFloats + (5 + WARPS) * g8), plan.sharedBytes(), "shared memory layout");
        assertTrue((long) (splits - 1) * perSplit < nBlocks && (long) splits * perSplit >= nBlocks, "splits cover the list");

        float[] partAcc = new float[heads * splits * hd];
        float[] partMax = new float[heads * splits];
        float[] partSum = new float[heads * splits];
        int[] arrivals = new int[s.kvHeads() * chunks];
        long rowBytes = (long) s.kvHeads() * hd * 4;
        List<int[]> ctas = new ArrayList<>();
        for (int x = 0; x < s.kvHeads() * chunks; x++) {
            for (int split = 0; split < splits; split++) {
                ctas.add(new int[] {x, split});
            }
        }
        Collections.shuffle(ctas, order);
        for (int[] cta : ctas) {
            int x = cta[0];
            int split = cta[1];
            int g = x / chunks;
            int chunk = x - g * chunks;
            int h0 = g * group + chunk * g8;
            int nh = Math.min(g8, group - chunk * g8);
            float[][] qr = new float[g8][hd]; // pre-scaled; zeros for heads past nh
            for (int hg = 0; hg < nh; hg++) {
                for (int d = 0; d < hd; d++) {
                    qr[hg][d] = scale * q[(h0 + hg) * hd + d];
                }
            }
            float[][][] acc = new float[THREADS][g8][8];
            float[] ms = new float[g8];
            float[] ls = new float[g8];
            java.util.Arrays.fill(ms, Float.NEGATIVE_INFINITY);
            int b0 = split * perSplit;
            int b1 = Math.min(nBlocks, b0 + perSplit);
            int rows = (b1 - b0) * s.blockSize();
            for (int tileStart = 0; tileStart < rows; tileStart += tile) {
                float[][] sc = new float[g8][tile];
                long[][] rowOf = new long[THREADS][ROWS];
                for (int t = 0; t < THREADS; t++) {
                    int warp = t / 32;
                    int lane = t % 32;
                    int sub = lane / lanesPerRow;
                    int c = lane % lanesPerRow;
                    for (int j = 0; j < ROWS; j++) {
                        int rowInTile = (j * WARPS + warp) * rowsPerWarp + sub;
                        int i = tileStart + rowInTile;
                        rowOf[t][j] = i < rows ? liveRow(i, b0, g, s, slots, valid, mask, headMask, capacity) : -1;
                        if (c == 0) { // the row's lanes' partial dots, summed (the xor shuffles)
                            for (int hg = 0; hg < g8; hg++) {
                                float dot = 0f;
                                for (int cc = 0; cc < lanesPerRow; cc++) {
                                    if (cc < c8 && rowOf[t][j] >= 0) {
                                        float[] k = chunk(slab, rowOf[t][j] + (g * hd + cc * 8) * 4L);
                                        float part = 0f;
                                        for (int e = 0; e < 8; e++) {
                                            part = Math.fma(qr[hg][cc * 8 + e], k[e], part);
                                        }
                                        dot += part;
                                    }
                                }
                                sc[hg][rowInTile] = rowOf[t][j] >= 0 ? dot : Float.NEGATIVE_INFINITY;
                            }
                        }
                    }
                }
                float[] cs = new float[g8];
                for (int hg = 0; hg < g8; hg++) { // online softmax over the tile
                    float mx = Float.NEGATIVE_INFINITY;
                    for (int t = 0; t < tile; t++) {
                        mx = Math.max(mx, sc[hg][t]);
                    }
                    float mNew = Math.max(ms[hg], mx);
                    float sum = 0f;
                    for (int t = 0; t < tile; t++) {
                        sc[hg][t] = expDiff(sc[hg][t], mNew);
                        sum += sc[hg][t];
                    }
                    cs[hg] = expDiff(ms[hg], mNew);
                    ls[hg] = Math.fma(ls[hg], cs[hg], sum);
                    ms[hg] = mNew;
                }
                for (int t = 0; t < THREADS; t++) { // acc = acc * rescale + p . V
                    int warp = t / 32;
                    int lane = t % 32;
                    int sub = lane / lanesPerRow;
                    int c = lane % lanesPerRow;
                    for (int hg = 0; hg < g8; hg++) {
                        for (int e = 0; e < 8; e++) {
                            acc[t][hg][e] *= cs[hg];
                        }
                    }
                    for (int j = 0; j < ROWS; j++) {
                        int rowInTile = (j * WARPS + warp) * rowsPerWarp + sub;
                        float[] v = rowOf[t][j] >= 0 && c < c8
                                ? chunk(slab, rowOf[t][j] + s.halfBytes() + (g * hd + c * 8) * 4L) : new float[8];
                        for (int hg = 0; hg < g8; hg++) {
                            float p = sc[hg][rowInTile];
                            for (int e = 0; e < 8; e++) {
                                acc[t][hg][e] = Math.fma(p, v[e], acc[t][hg][e]);
                            }
                        }
                    }
                }
            }
            // The split's partial: the accumulators of the lanes holding column d, summed.
            for (int hg = 0; hg < nh; hg++) {
                int h = h0 + hg;
                for (int d = 0; d < hd; d++) {
                    float a = 0f;
                    for (int t = 0; t < THREADS; t++) {
                        if ((t % 32) % lanesPerRow == d / 8) {
                            assertTrue(((t / 32) * g8 + hg) * hd + d < redFloats, "reduction scratch");
                            a += acc[t][hg][d % 8];
                        }
                    }
                    partAcc[(h * splits + split) * hd + d] = a;
                }
                partMax[h * splits + split] = ms[hg];
                partSum[h * splits + split] = ls[hg];
            }
            if (++arrivals[x] < splits) {
                continue;
            }
            // The last CTA of this (KV head, head chunk): merge every split.
            for (int hg = 0; hg < nh; hg++) {
                int h = h0 + hg;
                float m = Float.NEGATIVE_INFINITY;
                for (int sp = 0; sp < splits; sp++) {
                    m = Math.max(m, partMax[h * splits + sp]);
                }
                float l = 0f;
                for (int sp = 0; sp < splits; sp++) {
                    l = Math.fma(partSum[h * splits + sp], expDiff(partMax[h * splits + sp], m), l);
                }
                for (int d = 0; d < hd; d++) {
                    assertTrue(((slices - 1) * g8 + hg) * hd + d < redFloats, "merge scratch");
                    float a = 0f;
                    for (int sp = 0; sp < splits; sp++) {
                        a = Math.fma(expDiff(partMax[h * splits + sp], m), partAcc[(h * splits + sp) * hd + d], a);
                    }
                    out[h * hd + d] = l > 0f ? a / l : 0f;
                }
                lse[h] = l > 0f ? m + (float) Math.log(l) : Float.NEGATIVE_INFINITY;
            }
            arrivals[x] = 0;
        }
        for (int a : arrivals) {
            assertEquals(0, a, "arrival counters are left zero");
        }
        return new ReferenceOps.Attention(out, lse);
    }

    @Test
    void kernelAlgorithm_matchesTheOracle_acrossSplitsMasksHeadMasksGqaHeadChunksAndBadSlots() {
        Random r = new Random(13);
        // heads, kvHeads, headDim, blockSize: groups 1, 2, 3 (G = 4, one head idle), 8, 12 (two chunks of 8 and 4, one KV
        // head and two); head dims of 1, 2, 4, 5, 16 and 32 chunks (lanes per row 1 .. 32, 8 of them idle at 40).
        int[][] geometries = {{4, 4, 16, 4}, {8, 4, 32, 16}, {6, 2, 40, 8}, {8, 1, 8, 2}, {12, 1, 128, 16}, {24, 2, 32, 8},
                {2, 1, 256, 3}};
        for (int[] g : geometries) {
            PagedKvShape s = PagedKvShape.dense(DType.F32, g[0], g[1], g[2], g[3]);
            for (int nBlocks : new int[] {0, 1, 2, 5, 37, 300}) {
                for (int sms : new int[] {1, 3, 132}) {
                    for (boolean headMasked : new boolean[] {false, true}) {
                        check(r, s, nBlocks, sms, headMasked);
                    }
                }
            }
        }
    }

    private static void check(Random r, PagedKvShape s, int nBlocks, int sms, boolean headMasked) {
        int capacity = nBlocks + 4;
        float[] slab = new float[(int) (capacity * s.slotBytes() / 4)];
        for (int i = 0; i < slab.length; i++) {
            slab[i] = (float) r.nextGaussian();
        }
        int[] slots = new int[nBlocks];
        int[] valid = new int[nBlocks];
        byte[] mask = new byte[Math.max(1, nBlocks * s.blockSize())];
        for (int b = 0; b < nBlocks; b++) {
            slots[b] = r.nextInt(10) == 0 ? capacity + 2 : r.nextInt(capacity); // a few bad slot ids
            valid[b] = b == nBlocks - 1 ? 1 + r.nextInt(s.blockSize()) : s.blockSize();
        }
        for (int i = 0; i < nBlocks * s.blockSize(); i++) {
            mask[i] = (byte) (r.nextInt(4) == 0 ? 1 : 0);
        }
        float[] q = new float[s.heads() * s.headDim()];
        for (int i = 0; i < q.length; i++) {
            q[i] = (float) r.nextGaussian();
        }
        byte[] headMask = headMasked ? DeviceArrays.randomHeadMask(new SplittableRandom(r.nextLong()), nBlocks, s.kvHeads()) : null;
        float scale = (float) (1 / Math.sqrt(s.headDim()));
        // The oracle sees the bad slots as absent: they are skipped like evicted rows.
        byte[] oracleMask = mask.clone();
        int[] oracleSlots = slots.clone();
        for (int b = 0; b < nBlocks; b++) {
            if (slots[b] >= capacity) {
                oracleSlots[b] = 0;
                java.util.Arrays.fill(oracleMask, b * s.blockSize(), (b + 1) * s.blockSize(), (byte) 1);
            }
        }
        ReferenceOps.Attention want = ReferenceOps.pagedAttention(s, q, slab, oracleSlots, valid, oracleMask, headMask, nBlocks, scale);
        ReferenceOps.Attention got = mirror(s, q, slab, capacity, slots, valid, mask, headMask, nBlocks, scale, sms, r);
        String what = s + " blocks " + nBlocks + " sms " + sms + (headMasked ? " head-masked" : "");
        for (int i = 0; i < want.out().length; i++) {
            assertEquals(want.out()[i], got.out()[i], 2e-5 * Math.max(1, Math.abs(want.out()[i])), what + " out " + i);
        }
        for (int h = 0; h < s.heads(); h++) {
            double tol = Float.isInfinite(want.lse()[h]) ? 0 : 2e-5 * Math.max(1, Math.abs(want.lse()[h]));
            assertEquals(want.lse()[h], got.lse()[h], tol, what + " lse " + h);
        }
    }
}

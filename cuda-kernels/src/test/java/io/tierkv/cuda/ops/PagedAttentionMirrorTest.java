package io.tierkv.cuda.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.tierkv.core.DType;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * {@code paged_attention.cu}'s algorithm, step for step in Java (float arithmetic, the same split plan, the
 * same row order per warp, the same online softmax, warp merge and split combine, the same treatment of
 * -inf), held to {@link ReferenceOps#pagedAttention}. This is how the kernel's indexing and merging logic
 * is tested without a GPU; the {@code gpu} test then holds the kernel itself to the same oracle.
 */
class PagedAttentionMirrorTest {
    static final int WARPS = LaunchPlans.ATTENTION_WARPS;

    static float expDiff(float a, float b) {
        return a == Float.NEGATIVE_INFINITY ? 0f : (float) Math.exp(a - b);
    }

    /** The kernel's liveRow: the element index of row i's K row (KV head 0), or -1. */
    static long liveRow(int i, int b0, PagedKvShape s, int[] slots, int[] valid, byte[] mask, int capacity) {
        int q = i / s.blockSize();
        int b = b0 + q;
        int r = i - q * s.blockSize();
        int rows = valid != null ? valid[b] : s.blockSize();
        if (r >= rows || (mask != null && mask[b * s.blockSize() + r] != 0)) {
            return -1;
        }
        int slot = slots[b];
        if (slot < 0 || slot >= capacity) {
            return -1;
        }
        return slot * (s.slotBytes() / s.dtype().bytes()) + (long) r * s.kvHeads() * s.headDim();
    }

    static ReferenceOps.Attention mirror(PagedKvShape s, float[] q, float[] slab, int capacity, int[] slots, int[] valid, byte[] mask,
                                         int nBlocks, float scale, int sms) {
        int heads = s.heads();
        int hd = s.headDim();
        int group = s.group();
        int[] plan = LaunchPlans.attentionSplits(nBlocks, s.kvHeads(), sms);
        int splits = plan[0];
        int perSplit = plan[1];
        long halfElems = s.halfBytes() / s.dtype().bytes();
        float[] partAcc = new float[heads * Math.max(splits, 1) * hd];
        float[] partMax = new float[heads * Math.max(splits, 1)];
        float[] partSum = new float[heads * Math.max(splits, 1)];
        for (int g = 0; g < s.kvHeads(); g++) {
            for (int split = 0; split < splits; split++) { // one CTA
                float[][] acc = new float[WARPS][group * hd];
                float[][] m = new float[WARPS][group];
                float[][] l = new float[WARPS][group];
                for (float[] row : m) {
                    java.util.Arrays.fill(row, Float.NEGATIVE_INFINITY);
                }
                int b0 = split * perSplit;
                int b1 = Math.min(nBlocks, b0 + perSplit);
                int rowsInSplit = (b1 - b0) * s.blockSize();
                for (int w = 0; w < WARPS; w++) {
                    for (int i = w; i < rowsInSplit; i += 2 * WARPS) {
                        for (int row : new int[] {i, i + WARPS}) {
                            if (row >= rowsInSplit) {
                                continue;
                            }
                            long k = liveRow(row, b0, s, slots, valid, mask, capacity);
                            if (k < 0) {
                                continue;
                            }
                            k += (long) g * hd;
                            for (int hg = 0; hg < group; hg++) {
                                float dot = 0f;
                                for (int d = 0; d < hd; d++) {
                                    dot += slab[(int) (k + d)] * (scale * q[(g * group + hg) * hd + d]);
                                }
                                float mNew = Math.max(m[w][hg], dot);
                                float corr = expDiff(m[w][hg], mNew);
                                float p = (float) Math.exp(dot - mNew);
                                for (int d = 0; d < hd; d++) {
                                    acc[w][hg * hd + d] = acc[w][hg * hd + d] * corr + p * slab[(int) (k + halfElems + d)];
                                }
                                l[w][hg] = l[w][hg] * corr + p;
                                m[w][hg] = mNew;
                            }
                        }
                    }
                }
                for (int hg = 0; hg < group; hg++) { // warp merge
                    float mm = Float.NEGATIVE_INFINITY;
                    for (int w = 0; w < WARPS; w++) {
                        mm = Math.max(mm, m[w][hg]);
                    }
                    int h = g * group + hg;
                    float ll = 0f;
                    for (int w = 0; w < WARPS; w++) {
                        ll += l[w][hg] * expDiff(m[w][hg], mm);
                    }
                    for (int d = 0; d < hd; d++) {
                        float a = 0f;
                        for (int w = 0; w < WARPS; w++) {
                            a += acc[w][hg * hd + d] * expDiff(m[w][hg], mm);
                        }
                        partAcc[(h * splits + split) * hd + d] = a;
                    }
                    partMax[h * splits + split] = mm;
                    partSum[h * splits + split] = ll;
                }
            }
        }
        float[] out = new float[heads * hd]; // attention_combine
        float[] lse = new float[heads];
        for (int h = 0; h < heads; h++) {
            float mm = Float.NEGATIVE_INFINITY;
            for (int sp = 0; sp < splits; sp++) {
                mm = Math.max(mm, partMax[h * splits + sp]);
            }
            float ll = 0f;
            for (int sp = 0; sp < splits; sp++) {
                ll += partSum[h * splits + sp] * expDiff(partMax[h * splits + sp], mm);
            }
            boolean empty = !(ll > 0f);
            for (int d = 0; d < hd; d++) {
                float a = 0f;
                for (int sp = 0; sp < splits; sp++) {
                    a += partAcc[(h * splits + sp) * hd + d] * expDiff(partMax[h * splits + sp], mm);
                }
                out[h * hd + d] = empty ? 0f : a / ll;
            }
            lse[h] = empty ? Float.NEGATIVE_INFINITY : mm + (float) Math.log(ll);
        }
        return new ReferenceOps.Attention(out, lse);
    }

    @Test
    void kernelAlgorithm_matchesTheOracle_acrossSplitsMasksGqaAndBadSlots() {
        Random r = new Random(13);
        int[][] geometries = {{4, 4, 16, 4}, {8, 2, 32, 16}, {6, 1, 40, 8}, {2, 1, 8, 2}};
        for (int[] g : geometries) {
            PagedKvShape s = PagedKvShape.dense(DType.F32, g[0], g[1], g[2], g[3]);
            for (int nBlocks : new int[] {0, 1, 2, 5, 37, 300}) {
                for (int sms : new int[] {1, 3, 132}) {
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
                    ReferenceOps.Attention want = ReferenceOps.pagedAttention(s, q, slab, oracleSlots, valid, oracleMask, nBlocks, scale);
                    ReferenceOps.Attention got = mirror(s, q, slab, capacity, slots, valid, mask, nBlocks, scale, sms);
                    String what = java.util.Arrays.toString(g) + " blocks " + nBlocks + " sms " + sms;
                    for (int i = 0; i < want.out().length; i++) {
                        assertEquals(want.out()[i], got.out()[i], 2e-5 * Math.max(1, Math.abs(want.out()[i])), what + " out " + i);
                    }
                    for (int h = 0; h < s.heads(); h++) {
                        double tol = Float.isInfinite(want.lse()[h]) ? 0 : 2e-5 * Math.max(1, Math.abs(want.lse()[h]));
                        assertEquals(want.lse()[h], got.lse()[h], tol, what + " lse " + h);
                    }
                }
            }
        }
    }
}

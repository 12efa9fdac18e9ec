package io.tierkv.cuda.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.core.DType;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The attention contract the CUDA kernels are held to: partial results merge exactly by log-sum-exp; evicted rows and,
 * per KV head, head-masked list entries take no part.
 */
class ReferenceOpsTest {
    static final PagedKvShape SHAPE = PagedKvShape.dense(DType.F32, 6, 2, 8, 4);
    /** 4 KV heads of 2 query heads, blocks of 4 rows. */
    static final PagedKvShape GQA = PagedKvShape.dense(DType.F32, 8, 4, 8, 4);
    /** {@code [entry][KV head]} of 5 entries for {@link #GQA}. */
    static final byte[] HEAD_MASK = {
        // g0 g1 g2 g3 (KV head 3 keeps no entry)
        1, 0, 1, 0, // entry 0
        0, 1, 1, 0, // entry 1
        1, 1, 0, 0, // entry 2
        1, 0, 0, 0, // entry 3
        0, 1, 1, 0, // entry 4
    };

    static float[] random(Random r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) r.nextGaussian();
        }
        return a;
    }

    @Test
    void attention_splitIntoTwoParts_mergesToTheWhole() {
        Random r = new Random(7);
        int slotsInSlab = 9;
        float[] slab = random(r, (int) (slotsInSlab * SHAPE.slotBytes() / 4));
        float[] q = random(r, SHAPE.heads() * SHAPE.headDim());
        int[] all = {3, 0, 8, 5, 1};
        int[] valid = {4, 4, 4, 4, 2};
        ReferenceOps.Attention whole = ReferenceOps.pagedAttention(SHAPE, q, slab, all, valid, null, 5, 0.35f);
        ReferenceOps.Attention a = ReferenceOps.pagedAttention(SHAPE, q, slab, new int[] {3, 0}, new int[] {4, 4}, null, 2, 0.35f);
        ReferenceOps.Attention b = ReferenceOps.pagedAttention(SHAPE, q, slab, new int[] {8, 5, 1}, new int[] {4, 4, 2}, null, 3, 0.35f);
        ReferenceOps.Attention merged = ReferenceOps.merge(a, b, SHAPE.heads(), SHAPE.headDim());
        for (int i = 0; i < whole.out().length; i++) {
            assertEquals(whole.out()[i], merged.out()[i], 1e-5, "out " + i);
        }
        for (int h = 0; h < SHAPE.heads(); h++) {
            assertEquals(whole.lse()[h], merged.lse()[h], 1e-5, "lse " + h);
        }
    }

    @Test
    void attention_maskedRows_equalLeavingThemOut() {
        Random r = new Random(11);
        float[] slab = random(r, (int) (4 * SHAPE.slotBytes() / 4));
        float[] q = random(r, SHAPE.heads() * SHAPE.headDim());
        byte[] mask = new byte[2 * SHAPE.blockSize()];
        mask[2] = 1; // block 0, rows 2 and 3 evicted
        mask[3] = 1;
        ReferenceOps.Attention masked = ReferenceOps.pagedAttention(SHAPE, q, slab, new int[] {1, 2}, null, mask, 2, 0.5f);
        ReferenceOps.Attention cut = ReferenceOps.merge(
                ReferenceOps.pagedAttention(SHAPE, q, slab, new int[] {1}, new int[] {2}, null, 1, 0.5f),
                ReferenceOps.pagedAttention(SHAPE, q, slab, new int[] {2}, null, null, 1, 0.5f), SHAPE.heads(), SHAPE.headDim());
        for (int i = 0; i < masked.out().length; i++) {
            assertEquals(cut.out()[i], masked.out()[i], 1e-5, "out " + i);
        }
    }

    /** The list entries whose {@code headMask} byte for KV head {@code g} is non-zero, in list order. */
    static int[] keptFor(byte[] headMask, int kvHeads, int g, int nBlocks) {
        return java.util.stream.IntStream.range(0, nBlocks).filter(b -> headMask[b * kvHeads + g] != 0).toArray();
    }

    /** The rows of {@code perEntry} ({@code [nBlocks][width]}) of the entries {@code kept}, in that order. */
    static byte[] rowsOf(byte[] perEntry, int width, int[] kept) {
        byte[] sub = new byte[kept.length * width];
        for (int i = 0; i < kept.length; i++) {
            System.arraycopy(perEntry, kept[i] * width, sub, i * width, width);
        }
        return sub;
    }

    static int[] entriesOf(int[] perEntry, int[] kept) {
        return java.util.Arrays.stream(kept).map(b -> perEntry[b]).toArray();
    }

    @Test
    void attention_headMask_givesEachQueryHeadItsKvHeadsEntriesOnly_andAHeadWithNoneIsEmpty() {
        Random r = new Random(19);
        float[] slab = random(r, (int) (7 * GQA.slotBytes() / 4));
        float[] q = random(r, GQA.heads() * GQA.headDim());
        int[] slots = {5, 0, 3, 6, 2};
        int[] valid = {4, 4, 4, 4, 3};
        byte[] mask = new byte[5 * GQA.blockSize()];
        mask[1] = 1; // entry 0, row 1 and entry 2, row 3 evicted for every head
        mask[11] = 1;
        ReferenceOps.Attention masked = ReferenceOps.pagedAttention(GQA, q, slab, slots, valid, mask, HEAD_MASK, 5, 0.4f);
        int hd = GQA.headDim();
        for (int g = 0; g < GQA.kvHeads(); g++) {
            int[] kept = keptFor(HEAD_MASK, GQA.kvHeads(), g, 5);
            ReferenceOps.Attention sub = ReferenceOps.pagedAttention(GQA, q, slab, entriesOf(slots, kept), entriesOf(valid, kept),
                    rowsOf(mask, GQA.blockSize(), kept), kept.length, 0.4f);
            for (int h = g * GQA.group(); h < (g + 1) * GQA.group(); h++) {
                for (int d = 0; d < hd; d++) {
                    assertEquals(sub.out()[h * hd + d], masked.out()[h * hd + d], "head " + h + " out " + d);
                }
                assertEquals(sub.lse()[h], masked.lse()[h], "head " + h + " lse");
            }
        }
        for (int h = 3 * GQA.group(); h < 4 * GQA.group(); h++) { // KV head 3 keeps no entry
            assertEquals(Float.NEGATIVE_INFINITY, masked.lse()[h], "lse " + h);
            for (int d = 0; d < hd; d++) {
                assertEquals(0f, masked.out()[h * hd + d], "head " + h + " out " + d);
            }
        }
    }

    @Test
    void attention_allOnesHeadMask_equalsNone() {
        Random r = new Random(21);
        float[] slab = random(r, (int) (4 * GQA.slotBytes() / 4));
        float[] q = random(r, GQA.heads() * GQA.headDim());
        byte[] ones = new byte[3 * GQA.kvHeads()];
        java.util.Arrays.fill(ones, (byte) 7); // any non-zero byte keeps the entry
        ReferenceOps.Attention none = ReferenceOps.pagedAttention(GQA, q, slab, new int[] {2, 0, 3}, null, null, 3, 0.4f);
        ReferenceOps.Attention all = ReferenceOps.pagedAttention(GQA, q, slab, new int[] {2, 0, 3}, null, null, ones, 3, 0.4f);
        assertArrayEquals(none.out(), all.out());
        assertArrayEquals(none.lse(), all.lse());
    }

    @Test
    void attention_refusesAHeadMaskShorterThanTheList() {
        float[] slab = new float[(int) (2 * GQA.slotBytes() / 4)];
        float[] q = new float[GQA.heads() * GQA.headDim()];
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ReferenceOps.pagedAttention(GQA, q, slab, new int[] {0, 1}, null, null, new byte[7], 2, 1f));
        assertTrue(e.getMessage().contains("headMask must hold nBlocks * kvHeads = 2 * 4 bytes, had 7"), e.getMessage());
    }

    @Test
    void attention_withNoLiveRow_isZeroWithMinusInfinityLse_andMergesAsIdentity() {
        Random r = new Random(3);
        float[] slab = random(r, (int) (2 * SHAPE.slotBytes() / 4));
        float[] q = random(r, SHAPE.heads() * SHAPE.headDim());
        ReferenceOps.Attention empty = ReferenceOps.pagedAttention(SHAPE, q, slab, new int[0], null, null, 0, 1f);
        assertEquals(Float.NEGATIVE_INFINITY, empty.lse()[0]);
        assertEquals(0f, empty.out()[0]);
        ReferenceOps.Attention one = ReferenceOps.pagedAttention(SHAPE, q, slab, new int[] {1}, null, null, 1, 1f);
        ReferenceOps.Attention merged = ReferenceOps.merge(empty, one, SHAPE.heads(), SHAPE.headDim());
        for (int i = 0; i < one.out().length; i++) {
            assertEquals(one.out()[i], merged.out()[i], 1e-6);
        }
    }

    @Test
    void shape_refusesBlocksThatAreNotMultiplesOf16Bytes() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PagedKvShape.dense(DType.BF16, 1, 1, 3, 1));
        assertTrue(e.getMessage().contains("multiple of 16"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> PagedKvShape.dense(DType.F32, 6, 4, 8, 4));
        assertThrows(IllegalArgumentException.class, () -> PagedKvShape.dense(DType.F32, 1, 1, 512, 1));
        assertThrows(IllegalArgumentException.class, () -> new PagedKvShape(DType.F32, 1, 1, 4, 1, 24));
    }

    @Test
    void gemm_rowsAreGemvs() {
        Random r = new Random(5);
        float[] w = random(r, 5 * 3);
        float[] x = random(r, 2 * 3);
        float[] y = ReferenceOps.gemm(x, w, null, 2, 5, 3);
        float[] row1 = ReferenceOps.gemv(w, java.util.Arrays.copyOfRange(x, 3, 6), null, 5, 3);
        for (int o = 0; o < 5; o++) {
            assertEquals(row1[o], y[5 + o]);
        }
    }

    @Test
    void rope_atPositionZero_isTheIdentity_andPreservesTheNorm() {
        Random r = new Random(9);
        float[][] t = RopeTables.tables(RopeTables.invFreq(8, 10000), 4);
        float[] x = random(r, 2 * 8);
        float[] y = x.clone();
        ReferenceOps.rope(y, 1, 2, 8, 0, t[0], t[1]);
        assertEquals(x[3], y[3]);
        float[] z = x.clone();
        ReferenceOps.rope(z, 1, 2, 8, 3, t[0], t[1]);
        double nx = 0;
        double nz = 0;
        for (int i = 0; i < 8; i++) {
            nx += x[i] * x[i];
            nz += z[i] * z[i];
        }
        assertEquals(nx, nz, 1e-4);
        assertTrue(z[0] != x[0]);
    }

    @Test
    void llama3Scaling_keepsHighFrequencies_andDividesLowOnesByTheFactor() {
        double[] inv = RopeTables.invFreq(128, 500000);
        double[] scaled = RopeTables.llama3InvFreq(inv, 8, 1, 4, 8192);
        assertEquals(inv[0], scaled[0]);
        assertEquals(inv[63] / 8, scaled[63], 1e-20);
    }

    @Test
    void halfFloats_roundTripRepresentableValues() {
        for (float f : new float[] {0f, -0f, 1f, -2.5f, 65504f, 0x1p-24f, 0x1p-14f, 3.140625f}) {
            assertEquals(f, HalfFloats.fromF16(HalfFloats.toF16(f)), f + " f16");
        }
        for (float f : new float[] {0f, 1f, -2.5f, 3.0e38f, 1e-30f}) {
            float b = HalfFloats.round(f, DType.BF16);
            assertEquals(b, HalfFloats.fromBf16(HalfFloats.toBf16(b)), f + " bf16");
            assertEquals(f, b, Math.abs(f) / 128);
        }
        assertEquals(1.0f, HalfFloats.fromBf16(HalfFloats.toBf16(1.00390625f)), "a tie rounds to even");
        assertEquals(Float.POSITIVE_INFINITY, HalfFloats.fromF16(HalfFloats.toF16(1e6f)));
    }
}

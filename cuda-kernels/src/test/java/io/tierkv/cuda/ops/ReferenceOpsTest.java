package io.tierkv.cuda.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.core.DType;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The attention contract the CUDA kernels are held to: partial results merge exactly by log-sum-exp. */
class ReferenceOpsTest {
    static final PagedKvShape SHAPE = PagedKvShape.dense(DType.F32, 6, 2, 8, 4);

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

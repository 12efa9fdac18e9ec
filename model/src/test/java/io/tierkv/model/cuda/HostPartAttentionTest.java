package io.tierkv.model.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.core.DType;
import io.tierkv.cuda.ops.CudaPagedProbs;
import io.tierkv.cuda.ops.HalfFloats;
import io.tierkv.cuda.ops.PagedKvShape;
import io.tierkv.cuda.ops.ReferenceOps;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Random;
import org.agrona.UnsafeApi;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;

/**
 * The CPU's attention over a host part ({@link HostAttention#CPU}) against the kernels' oracles, over a native slab in
 * each KV dtype, with padded slots, short blocks, evicted rows and a head mask: the same output, lse and probabilities.
 */
class HostPartAttentionTest {
    /** 8 query heads over 4 KV heads, head dim 16, blocks of 8 rows, slots padded by 32 bytes. */
    static PagedKvShape shape(DType dtype) {
        long half = 8L * 4 * 16 * dtype.bytes();
        return new PagedKvShape(dtype, 8, 4, 16, 8, 2 * half + 32);
    }

    /** A native slab of {@code slots} random slots in the shape's dtype, and the same values as floats for the oracles. */
    record Slab(ByteBuffer memory, long address, long bytes, float[] values) {
        static Slab random(PagedKvShape s, int slots, Random r) {
            long bytes = slots * s.slotBytes();
            ByteBuffer memory = ByteBuffer.allocateDirect((int) bytes).order(ByteOrder.LITTLE_ENDIAN);
            int e = s.dtype().bytes();
            float[] values = new float[(int) (bytes / e)];
            for (int i = 0; i < values.length; i++) {
                float x = (float) r.nextGaussian();
                switch (s.dtype()) {
                    case F32 -> memory.putFloat(i * e, x);
                    case F16 -> {
                        memory.putShort(i * e, HalfFloats.toF16(x));
                        x = HalfFloats.fromF16(HalfFloats.toF16(x));
                    }
                    case BF16 -> {
                        memory.putShort(i * e, HalfFloats.toBf16(x));
                        x = HalfFloats.fromBf16(HalfFloats.toBf16(x));
                    }
                    default -> throw new IllegalStateException();
                }
                values[i] = x;
            }
            return new Slab(memory, new UnsafeBuffer(memory).addressOffset(), bytes, values);
        }
    }

    static float[] gaussian(Random r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) r.nextGaussian();
        }
        return a;
    }

    @ParameterizedTest
    @EnumSource(DType.class)
    void attendAndProbs_equalTheKernelsOracles(DType dtype) {
        PagedKvShape s = shape(dtype);
        Random r = new Random(41 + dtype.ordinal());
        Slab slab = Slab.random(s, 12, r);
        float[] q = gaussian(r, s.heads() * s.headDim());
        int n = 6;
        int[] slots = {7, 0, 11, 3, 5, 9};
        int[] valid = {8, 8, 3, 8, 8, 5};
        int[] blocks = {0, 2, 3, 5, 6, 9};
        byte[] mask = new byte[n * s.blockSize()];
        mask[1] = 1;
        mask[8 + 7] = 1;
        mask[24] = 1;
        byte[] headMask = new byte[n * s.kvHeads()];
        for (int i = 0; i < headMask.length; i++) {
            headMask[i] = (byte) (r.nextInt(3) == 0 ? 0 : 1);
        }
        Arrays.fill(headMask, 3 * s.kvHeads(), 4 * s.kvHeads(), (byte) 0); // entry 3 read by no KV head
        for (int i = 0; i < n; i++) {
            headMask[i * s.kvHeads() + 2] = 0; // KV head 2 reads nothing: its query heads come out empty
        }
        float scale = 0.25f;
        for (byte[] hm : new byte[][] {null, headMask}) {
            ReferenceOps.Attention want = ReferenceOps.pagedAttention(s, q, slab.values(), slots, valid, mask, hm, n, scale);
            float[] out = new float[q.length];
            float[] lse = new float[s.heads()];
            new HostPartAttention(s).attend(q, slab.address(), slab.bytes(), slots, valid, mask, hm, n, scale, out, lse);
            for (int h = 0; h < s.heads(); h++) {
                assertEquals(want.lse()[h], lse[h], 1e-5, dtype + " lse of head " + h + (hm == null ? "" : " (head mask)"));
            }
            for (int i = 0; i < out.length; i++) {
                assertEquals(want.out()[i], out[i], 1e-5, dtype + " out " + i + (hm == null ? "" : " (head mask)"));
            }
            if (hm != null) {
                assertEquals(Float.NEGATIVE_INFINITY, lse[4], "a query head whose KV head reads no entry");
                assertEquals(0f, out[4 * s.headDim()], "and its output");
            }
            int stride = 96;
            float[] wantProbs = new float[s.heads() * stride];
            Arrays.fill(wantProbs, -1f);
            float[] probs = wantProbs.clone();
            float[] lseForProbs = gaussian(r, s.heads());
            CudaPagedProbs.reference(s, q, slab.values(), slots, valid, mask, hm, blocks, n, scale, lseForProbs, wantProbs, stride);
            new HostPartAttention(s).probs(q, slab.address(), slab.bytes(), slots, valid, mask, hm, blocks, n, scale, lseForProbs, probs, stride);
            for (int i = 0; i < probs.length; i++) {
                assertEquals(wantProbs[i], probs[i], 1e-6 * Math.max(1, Math.abs(wantProbs[i])), dtype + " probability " + i);
            }
            assertTrue(java.util.stream.IntStream.range(0, probs.length).anyMatch(i -> probs[i] != -1f), "some probabilities written");
            assertEquals(-1f, probs[1], "an evicted row is left as it was");
        }
    }

    @Test
    void emptyPart_isMinusInfinityAndZeros() {
        PagedKvShape s = shape(DType.F32);
        Slab slab = Slab.random(s, 2, new Random(3));
        float[] out = new float[s.heads() * s.headDim()];
        Arrays.fill(out, 9f);
        float[] lse = new float[s.heads()];
        new HostPartAttention(s).attend(new float[out.length], slab.address(), slab.bytes(), new int[0], null, null, null, 0, 1f, out, lse);
        for (int h = 0; h < s.heads(); h++) {
            assertEquals(Float.NEGATIVE_INFINITY, lse[h]);
        }
        assertEquals(0f, out[0]);
    }

    /**
     * A large model's host tier passes 2 GiB (Llama-3-8B's BF16 KV at 16k tokens: 2.15 GB): slots past 2 GiB are read at
     * their 64-bit addresses. The slab is reserved, not filled (only the pages of the slots used are touched).
     */
    @Test
    void slotsPastTwoGiB_readAsSlotsNearTheStart() {
        PagedKvShape s = shape(DType.BF16);
        Random r = new Random(8);
        Slab small = Slab.random(s, 4, r);
        long far = (3L << 30) / s.slotBytes(); // the first slot used starts past 3 GiB
        long bytes = (far + 4) * s.slotBytes();
        long address = UnsafeApi.allocateMemory(bytes);
        try {
            int[] slots = {2, 0, 3, 1};
            int[] farSlots = new int[slots.length];
            for (int i = 0; i < slots.length; i++) {
                farSlots[i] = (int) (far + slots[i]);
            }
            UnsafeApi.copyMemory(small.address(), address + far * s.slotBytes(), small.bytes());
            float[] q = gaussian(r, s.heads() * s.headDim());
            float[] out = new float[q.length];
            float[] lse = new float[s.heads()];
            float[] farOut = new float[q.length];
            float[] farLse = new float[s.heads()];
            new HostPartAttention(s).attend(q, small.address(), small.bytes(), slots, null, null, null, slots.length, 0.25f, out, lse);
            new HostPartAttention(s).attend(q, address, bytes, farSlots, null, null, null, slots.length, 0.25f, farOut, farLse);
            assertTrue(bytes > Integer.MAX_VALUE && lse[0] > Float.NEGATIVE_INFINITY);
            assertTrue(Arrays.equals(out, farOut) && Arrays.equals(lse, farLse), "the same output and lse from slots past 2 GiB");
        } finally {
            UnsafeApi.freeMemory(address);
        }
    }

    @Test
    void slotOutsideTheSlab_isRefusedBeforeAnyRead() {
        PagedKvShape s = shape(DType.BF16);
        Slab slab = Slab.random(s, 2, new Random(5));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new HostPartAttention(s).attend(
                new float[s.heads() * s.headDim()], slab.address(), slab.bytes(), new int[] {0, 2}, null, null, null, 2, 1f,
                new float[s.heads() * s.headDim()], new float[s.heads()]));
        assertTrue(e.getMessage().contains("slot 2 of entry 1"), e.getMessage());
    }
}

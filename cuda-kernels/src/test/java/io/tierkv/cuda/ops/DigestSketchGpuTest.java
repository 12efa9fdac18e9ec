package io.tierkv.cuda.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.core.DType;
import io.tierkv.core.memory.MemoryLedger;
import io.tierkv.cuda.driver.CudaContext;
import io.tierkv.cuda.driver.CudaCopies;
import io.tierkv.cuda.driver.CudaStream;
import io.tierkv.cuda.driver.DeviceBuffer;
import io.tierkv.cuda.driver.Gpu;
import io.tierkv.cuda.driver.PinnedBuffer;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * {@code digest.cu}'s sketch and exact kernels against {@link DigestMirror}: {@code digest_sketch_update_<dtype>} byte for
 * byte (F32, F16 and BF16 slabs, every bits/sketch kind, scattered slots and digest indexes, a slot and an index out of
 * range leaving the array untouched), {@code digest_sketch_score} bit for bit (GQA, an index without a digest), and
 * {@code digest_exact_<dtype>} within 1e-5 relative (validRows, mask, headMask, an out-of-range slot, a mapped host slab).
 */
@Tag("gpu")
class DigestSketchGpuTest {
    static final double TOLERANCE = 1e-5;
    static final byte SENTINEL = 0x5A;

    @BeforeEach
    void needsGpu() {
        Gpu.assumeCuda();
    }

    static byte[] downloadBytes(CudaContext ctx, DeviceBuffer d, int count, CudaStream s) {
        byte[] out = new byte[count];
        try (PinnedBuffer h = new PinnedBuffer(ctx, Math.max(count, 16))) {
            CudaCopies.deviceToHostAsync(h, 0, d, 0, count, s);
            s.synchronize();
            h.buffer(0, count).get(out);
        }
        return out;
    }

    @Test
    void sketchDigestsMatchTheMirrorByteForByte_andScoresBitForBit() {
        SplittableRandom r = new SplittableRandom(53);
        MemoryLedger.Snapshot before = MemoryLedger.snapshot();
        // {heads, kvHeads, headDim, blockSize}: the bundled model, a Llama-like GQA, odd sizes (padding, rows past 16, rows
        // past a warp's 32 lanes)
        int[][] shapes = {{8, 4, 32, 16}, {32, 8, 128, 16}, {6, 3, 24, 5}, {4, 1, 64, 32}, {4, 2, 16, 40}};
        int[][] kinds = {{4, 2}, {4, 1}, {4, 4}, {8, 1}, {8, 2}, {8, 4}};
        try (CudaContext ctx = CudaContext.primary(0); CudaStream s = new CudaStream(ctx); DeviceArrays d = new DeviceArrays(ctx, s)) {
            for (DType t : new DType[] {DType.F32, DType.F16, DType.BF16}) {
                for (int[] g : shapes) {
                    for (int[] kind : kinds) {
                        int heads = g[0];
                        DigestShape shape = new DigestShape(g[1], g[2], g[3], 1, kind[0], kind[1]);
                        PagedKvShape kv = PagedKvShape.dense(t, heads, g[1], g[2], g[3]);
                        int n = 7;
                        String what = t + " " + shape;
                        int capacity = n + 3;
                        int digestCapacity = n + 5;
                        float[] slab = DeviceArrays.random(r, (int) (capacity * kv.slotBytes() / t.bytes()), r.nextInt(4) == 0 ? 30 : 1, t);
                        int[] slots = Arrays.copyOf(DigestGpuTest.permutation(r, capacity), n + 2);
                        int[] indexes = Arrays.copyOf(DigestGpuTest.permutation(r, digestCapacity), n + 2);
                        slots[n] = capacity;       // entry n: a slot past the slab, skipped
                        indexes[n + 1] = -1;       // entry n + 1: no digest index, skipped
                        int bytes = (int) (digestCapacity * shape.bytesPerBlock());
                        byte[] want = new byte[bytes];
                        Arrays.fill(want, SENTINEL);
                        DigestMirror.updateSketch(shape, slab, kv.slotBytes() / t.bytes(), 0, capacity, slots, indexes, n + 2, want);
                        try (CudaBlockDigests digests = new CudaBlockDigests(ctx, shape, digestCapacity)) {
                            assertEquals(bytes, digests.bytes());
                            digests.buffer().fill(0, digests.bytes(), SENTINEL, s);
                            DeviceBuffer dSlab = d.typed(slab, t);
                            DeviceBuffer dSlots = d.ints(slots);
                            DeviceBuffer dIndexes = d.ints(indexes);
                            digests.updateAsync(kv, dSlab.address(), dSlab.bytes(), 0, dSlots.address(), dIndexes.address(), n + 2, s);
                            byte[] got = downloadBytes(ctx, digests.buffer(), bytes, s);
                            for (int i = 0; i < bytes; i++) {
                                if (want[i] != got[i]) {
                                    throw new AssertionError(what + ": digest byte " + i + " (block " + i / shape.bytesPerBlock() + ", offset "
                                            + i % shape.bytesPerBlock() + "): expected 0x" + Integer.toHexString(want[i] & 0xFF) + ", was 0x"
                                            + Integer.toHexString(got[i] & 0xFF));
                                }
                            }
                            // scores over the written digests in a shuffled order, plus an index without a digest
                            int m = n + 1;
                            int[] order = DigestGpuTest.permutation(r, n);
                            int[] list = new int[m];
                            for (int i = 0; i < n; i++) {
                                list[i] = indexes[order[i]];
                            }
                            list[n] = digestCapacity;
                            float[] q = DeviceArrays.random(r, heads * shape.headDim(), 1, DType.F32);
                            float scale = (float) (1 / Math.sqrt(shape.headDim()));
                            float[] wantScore = new float[m * heads];
                            DigestMirror.score(shape, q, heads, scale, want, list, m, wantScore);
                            DeviceBuffer dq = d.floats(q);
                            DeviceBuffer dList = d.ints(list);
                            DeviceBuffer out = d.alloc(4L * m * heads);
                            digests.scoreAsync(dq.address(), heads, scale, dList.address(), m, out.address(), s);
                            float[] gotScore = d.download(out, m * heads);
                            for (int i = 0; i < wantScore.length; i++) {
                                assertEquals(Float.floatToRawIntBits(wantScore[i]), Float.floatToRawIntBits(gotScore[i]),
                                        what + " score " + i + " (entry " + i / heads + ", head " + i % heads + "): expected " + wantScore[i]
                                                + ", was " + gotScore[i]);
                            }
                            assertEquals(Float.POSITIVE_INFINITY, gotScore[(m - 1) * heads], what + ": an index without a digest scores +inf");
                            assertThrows(IllegalStateException.class,
                                    () -> digests.boundAsync(dq.address(), heads, scale, dList.address(), m, out.address(), s),
                                    "codes have no bound on the device");
                        }
                        d.close();
                    }
                }
            }
        }
        before.assertNoLeaks();
    }

    /** The exact scores of {@code n} entries of a random slab, device against the mirror. */
    static void checkExact(CudaContext ctx, CudaStream s, DeviceArrays d, SplittableRandom r, DType t, int heads, int kvHeads, int headDim,
                           int blockSize, boolean masks, boolean mapped) {
        long half = (long) blockSize * kvHeads * headDim * t.bytes();
        PagedKvShape kv = new PagedKvShape(t, heads, kvHeads, headDim, blockSize, 2 * half + 32); // keys at +16: not tiering's offset 0
        long keyOffset = 16;
        int capacity = 9;
        int n = 8;
        long slotElements = kv.slotBytes() / t.bytes();
        float[] slab = DeviceArrays.random(r, (int) (capacity * slotElements), 1, t);
        int[] slots = {3, 0, 8, capacity, 5, -2, 1, 7};
        int[] validRows = new int[n];
        byte[] mask = new byte[n * blockSize];
        byte[] headMask = new byte[n * kvHeads];
        for (int j = 0; j < n; j++) {
            validRows[j] = j == 2 ? 0 : j == 4 ? blockSize + 3 : 1 + r.nextInt(blockSize);
            for (int row = 0; row < blockSize; row++) {
                mask[j * blockSize + row] = (byte) (j == 6 || r.nextInt(5) == 0 ? 1 : 0);
            }
            for (int kh = 0; kh < kvHeads; kh++) {
                headMask[j * kvHeads + kh] = (byte) (r.nextInt(4) == 0 ? 0 : 1 + r.nextInt(200));
            }
        }
        headMask[0] = 0;
        float[] q = DeviceArrays.random(r, heads * headDim, 1, DType.F32);
        float scale = (float) (1 / Math.sqrt(headDim));
        float[] want = new float[n * heads];
        DigestMirror.exact(kv, q, scale, slab, keyOffset / t.bytes(), capacity, slots, masks ? validRows : null, masks ? mask : null, headMask,
                n, want);
        String what = t + " heads " + heads + "/" + kvHeads + " x " + headDim + " B " + blockSize + (masks ? " masked" : "")
                + (mapped ? " mapped" : "");
        DigestShape shape = new DigestShape(kvHeads, headDim, blockSize, 1, 4, 2);
        try (CudaBlockDigests digests = new CudaBlockDigests(ctx, shape, 1)) {
            DeviceBuffer dSlab = d.typed(slab, t);
            DeviceBuffer dSlots = d.ints(slots);
            DeviceBuffer dValid = d.ints(validRows);
            DeviceBuffer dMask = d.bytes(mask);
            DeviceBuffer dHeadMask = d.bytes(headMask);
            DeviceBuffer dq = d.floats(q);
            DeviceBuffer out = d.alloc(4L * n * heads);
            try (PinnedBuffer host = mapped ? new PinnedBuffer(ctx, dSlab.bytes()) : null) {
                long slabAddress = dSlab.address();
                if (mapped) {
                    CudaCopies.deviceToHostAsync(host, 0, dSlab, 0, dSlab.bytes(), s);
                    s.synchronize();
                    slabAddress = host.address(); // UVA
                }
                digests.exactAsync(kv, dq.address(), scale, slabAddress, dSlab.bytes(), keyOffset, dSlots.address(),
                        masks ? dValid.address() : 0, masks ? dMask.address() : 0, dHeadMask.address(), n, out.address(), s);
                float[] got = d.download(out, n * heads);
                for (int i = 0; i < want.length; i++) {
                    String at = what + ": exact " + i + " (entry " + i / heads + ", head " + i % heads + ")";
                    if (Float.isInfinite(want[i])) {
                        assertEquals(want[i], got[i], at);
                    } else {
                        assertEquals(want[i], got[i], TOLERANCE * Math.max(1, Math.abs(want[i])), at);
                    }
                }
                assertEquals(Float.NEGATIVE_INFINITY, got[3 * heads], what + ": a slot past the slab");
                assertEquals(Float.NEGATIVE_INFINITY, got[5 * heads], what + ": a negative slot");
                assertEquals(Float.NEGATIVE_INFINITY, got[0], what + ": KV head 0 of entry 0 masked off");
            }
        }
    }

    @Test
    void exactScoresMatchTheMirror_withMasks_headMask_andAnOutOfRangeSlot() {
        SplittableRandom r = new SplittableRandom(59);
        MemoryLedger.Snapshot before = MemoryLedger.snapshot();
        // {heads, kvHeads, headDim, blockSize}: groups 1, 2, 4, 12 (two passes of 8), KV heads past 8 warps, d up to 256, B past 32
        int[][] shapes = {{8, 4, 32, 16}, {32, 8, 128, 16}, {4, 4, 256, 8}, {24, 2, 64, 48}, {16, 16, 40, 16}, {2, 1, 8, 2}};
        try (CudaContext ctx = CudaContext.primary(0); CudaStream s = new CudaStream(ctx); DeviceArrays d = new DeviceArrays(ctx, s)) {
            for (DType t : new DType[] {DType.F32, DType.F16, DType.BF16}) {
                for (int[] g : shapes) {
                    for (boolean masks : new boolean[] {true, false}) {
                        checkExact(ctx, s, d, r, t, g[0], g[1], g[2], g[3], masks, false);
                        d.close();
                    }
                }
            }
            checkExact(ctx, s, d, r, DType.BF16, 32, 8, 128, 16, true, true);
            d.close();
        }
        before.assertNoLeaks();
    }

    @Test
    void hostChecks_refuseBadArguments() {
        try (CudaContext ctx = CudaContext.primary(0); CudaStream s = new CudaStream(ctx);
             CudaBlockDigests digests = new CudaBlockDigests(ctx, new DigestShape(4, 32, 16, 1, 4, 2), 4)) {
            PagedKvShape kv = PagedKvShape.dense(DType.F32, 8, 4, 32, 16);
            PagedKvShape other = PagedKvShape.dense(DType.F32, 8, 4, 64, 16);
            long a = 0x10000;
            assertThrows(IllegalArgumentException.class,
                    () -> digests.exactAsync(other, a, 1f, a, kv.slotBytes(), 0, a, 0, 0, a, 1, a, s), "geometry");
            assertThrows(IllegalArgumentException.class,
                    () -> digests.exactAsync(kv, a, 1f, a, kv.slotBytes(), 8, a, 0, 0, a, 1, a, s), "keyOffset not 16-aligned");
            assertThrows(IllegalArgumentException.class,
                    () -> digests.exactAsync(kv, a, 1f, a, kv.slotBytes(), 0, a, 0, 0, 0, 1, a, s), "headMask required");
            assertThrows(IllegalArgumentException.class,
                    () -> digests.exactAsync(kv, a, 1f, a + 8, kv.slotBytes(), 0, a, 0, 0, a, 1, a, s), "slab not 16-aligned");
            assertThrows(IllegalArgumentException.class,
                    () -> digests.exactAsync(kv, a, Float.NaN, a, kv.slotBytes(), 0, a, 0, 0, a, 1, a, s), "scale");
            assertThrows(IllegalArgumentException.class, () -> digests.scoreAsync(a, 6, 1f, a, 1, a, s), "heads not a multiple of kvHeads");
            digests.exactAsync(kv, 0, 1f, a, kv.slotBytes(), 0, 0, 0, 0, 0, 0, 0, s); // nothing to do: no launch, no address needed
            digests.scoreAsync(0, 8, 1f, 0, 0, 0, s);
        }
    }
}

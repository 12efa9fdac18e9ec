package io.tierkv.cuda.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
 * {@code digest.cu} against {@link DigestMirror}: the digests bit for bit (every KV dtype, parts 1, 2 and 4, odd block
 * counts, scattered slots and digest indexes, slots and indexes out of range skipped), then the bounds of a random query
 * over them (GQA, an index without a digest) within 1e-5 relative; the digest array is counted and freed.
 */
@Tag("gpu")
class DigestGpuTest {
    static final double TOLERANCE = 1e-5;
    static final short SENTINEL = 0x5A5A;

    @BeforeEach
    void needsGpu() {
        Gpu.assumeCuda();
    }

    static int[] permutation(SplittableRandom r, int n) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) {
            p[i] = i;
        }
        for (int i = n - 1; i > 0; i--) {
            int j = r.nextInt(i + 1);
            int t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        return p;
    }

    static short[] downloadShorts(CudaContext ctx, DeviceBuffer d, int count, CudaStream s) {
        short[] out = new short[count];
        try (PinnedBuffer h = new PinnedBuffer(ctx, Math.max(2L * count, 16))) {
            CudaCopies.deviceToHostAsync(h, 0, d, 0, 2L * count, s);
            s.synchronize();
            h.buffer(0, 2 * count).asShortBuffer().get(out);
        }
        return out;
    }

    @Test
    void digestsMatchTheMirrorBitForBit_andBoundsToRounding() {
        SplittableRandom r = new SplittableRandom(41);
        MemoryLedger.Snapshot before = MemoryLedger.snapshot();
        // {heads, kvHeads, headDim, blockSize, parts}
        int[][] shapes = {{32, 8, 128, 16, 1}, {32, 8, 128, 16, 2}, {8, 2, 64, 16, 2}, {6, 1, 40, 8, 1}, {4, 4, 32, 4, 4}};
        try (CudaContext ctx = CudaContext.primary(0); CudaStream s = new CudaStream(ctx); DeviceArrays d = new DeviceArrays(ctx, s)) {
            for (DType t : new DType[] {DType.F32, DType.BF16, DType.F16}) {
                for (int[] g : shapes) {
                    for (int n : new int[] {1, 7, 129}) {
                        int heads = g[0];
                        DigestShape shape = new DigestShape(g[1], g[2], g[3], g[4]);
                        PagedKvShape kv = PagedKvShape.dense(t, heads, g[1], g[2], g[3]);
                        String what = t + " " + Arrays.toString(g) + " blocks " + n;
                        int capacity = n + 3;
                        int digestCapacity = n + 5;
                        float[] slab = DeviceArrays.random(r, (int) (capacity * kv.slotBytes() / t.bytes()), 1, t);
                        int[] slots = Arrays.copyOf(permutation(r, capacity), n + 2);
                        int[] indexes = Arrays.copyOf(permutation(r, digestCapacity), n + 2);
                        slots[n] = capacity;       // entry n: a slot past the slab, skipped
                        indexes[n + 1] = -1;       // entry n + 1: no digest index, skipped
                        short[] want = new short[digestCapacity * shape.stride()];
                        Arrays.fill(want, SENTINEL);
                        DigestMirror.update(shape, slab, kv.slotBytes() / t.bytes(), 0, capacity, slots, indexes, n + 2, want);
                        try (CudaBlockDigests digests = new CudaBlockDigests(ctx, shape, digestCapacity)) {
                            assertEquals(digestCapacity * shape.bytesPerBlock(), digests.bytes());
                            digests.buffer().fill(0, digests.bytes(), (byte) 0x5A, s);
                            DeviceBuffer dSlab = d.typed(slab, t);
                            DeviceBuffer dSlots = d.ints(slots);
                            DeviceBuffer dIndexes = d.ints(indexes);
                            digests.updateAsync(kv, dSlab.address(), dSlab.bytes(), 0, dSlots.address(), dIndexes.address(), n + 2, s);
                            short[] got = downloadShorts(ctx, digests.buffer(), want.length, s);
                            for (int i = 0; i < want.length; i++) {
                                if (want[i] != got[i]) {
                                    throw new AssertionError(what + ": digest value " + i + " (block " + i / shape.stride() + ", offset "
                                            + i % shape.stride() + "): expected 0x" + Integer.toHexString(want[i] & 0xFFFF) + ", was 0x"
                                            + Integer.toHexString(got[i] & 0xFFFF));
                                }
                            }
                            // bounds over the written digests in a shuffled order, plus an index without a digest
                            int m = n + 1;
                            int[] order = permutation(r, n);
                            int[] list = new int[m];
                            for (int i = 0; i < n; i++) {
                                list[i] = indexes[order[i]];
                            }
                            list[n] = digestCapacity;
                            float[] q = DeviceArrays.random(r, heads * shape.headDim(), 1, DType.F32);
                            float scale = (float) (1 / Math.sqrt(shape.headDim()));
                            float[] wantBound = new float[m * heads];
                            DigestMirror.bound(shape, q, heads, scale, want, list, m, wantBound);
                            DeviceBuffer dq = d.floats(q);
                            DeviceBuffer dList = d.ints(list);
                            DeviceBuffer out = d.alloc(4L * m * heads);
                            digests.boundAsync(dq.address(), heads, scale, dList.address(), m, out.address(), s);
                            float[] gotBound = d.download(out, m * heads);
                            for (int i = 0; i < wantBound.length; i++) {
                                String at = what + " bound " + i + " (entry " + i / heads + ", head " + i % heads + ")";
                                if (Float.isInfinite(wantBound[i]) || Float.isNaN(wantBound[i])) {
                                    assertEquals(wantBound[i], gotBound[i], at);
                                } else {
                                    assertEquals(wantBound[i], gotBound[i], TOLERANCE * Math.max(1, Math.abs(wantBound[i])), at);
                                }
                            }
                            assertTrue(Float.isInfinite(gotBound[(m - 1) * heads]), what + ": an index without a digest bounds at +inf");
                        }
                        d.close();
                    }
                }
            }
        }
        before.assertNoLeaks();
    }

    @Test
    void digestsOfAMappedHostSlab_equalTheDevicesOnes() {
        SplittableRandom r = new SplittableRandom(43);
        DigestShape shape = new DigestShape(2, 64, 16, 2);
        PagedKvShape kv = PagedKvShape.dense(DType.BF16, 8, 2, 64, 16);
        int n = 5;
        float[] slab = DeviceArrays.random(r, (int) (n * kv.slotBytes() / 2), 1, DType.BF16);
        int[] slots = permutation(r, n);
        int[] indexes = permutation(r, n);
        short[] want = new short[n * shape.stride()];
        DigestMirror.update(shape, slab, kv.slotBytes() / 2, 0, n, slots, indexes, n, want);
        try (CudaContext ctx = CudaContext.primary(0); CudaStream s = new CudaStream(ctx); DeviceArrays d = new DeviceArrays(ctx, s);
             CudaBlockDigests digests = new CudaBlockDigests(ctx, shape, n)) {
            DeviceBuffer dSlab = d.typed(slab, DType.BF16);
            try (PinnedBuffer host = new PinnedBuffer(ctx, dSlab.bytes())) {
                CudaCopies.deviceToHostAsync(host, 0, dSlab, 0, dSlab.bytes(), s);
                s.synchronize();
                DeviceBuffer dSlots = d.ints(slots);
                DeviceBuffer dIndexes = d.ints(indexes);
                digests.updateAsync(kv, host.address(), host.bytes(), 0, dSlots.address(), dIndexes.address(), n, s); // UVA
                assertTrue(Arrays.equals(want, downloadShorts(ctx, digests.buffer(), want.length, s)), "digests read over PCIe");
            }
        }
    }
}

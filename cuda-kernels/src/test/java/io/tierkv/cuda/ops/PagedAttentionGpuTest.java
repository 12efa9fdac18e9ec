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
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Paged decode attention against {@link ReferenceOps#pagedAttention}: scattered slots, a partial last block,
 * evicted rows, head-masked (list entry, KV head) pairs, GQA, every KV dtype, short and long lists (one split and
 * many); and two parts (one in device memory, one in mapped pinned memory) merged by {@code lse_merge}, or attended in one
 * launch, equal the whole, also for a prefill chunk's rows each cut at its position.
 */
@Tag("gpu")
class PagedAttentionGpuTest {
    static final double TOLERANCE = 3e-5;

    @BeforeEach
    void needsGpu() {
        Gpu.assumeCuda();
    }

    static void assertClose(ReferenceOps.Attention expected, float[] out, float[] lse, String what) {
        for (int i = 0; i < expected.out().length; i++) {
            double tol = TOLERANCE * Math.max(1, Math.abs(expected.out()[i]));
            assertTrue(Math.abs(expected.out()[i] - out[i]) <= tol, what + " out[" + i + "]: expected " + expected.out()[i] + ", was " + out[i]);
        }
        for (int h = 0; h < lse.length; h++) {
            if (expected.lse()[h] == Float.NEGATIVE_INFINITY) {
                assertEquals(Float.NEGATIVE_INFINITY, lse[h], what + " lse[" + h + "]");
            } else {
                assertEquals(expected.lse()[h], lse[h], TOLERANCE * Math.max(1, Math.abs(expected.lse()[h])), what + " lse[" + h + "]");
            }
        }
    }

    /** A random list over a slab: slots, valid rows (last block partial), mask (about 1 in 5 evicted). */
    record Case(PagedKvShape shape, int capacity, float[] slab, int[] slots, int[] valid, byte[] mask, float[] q) {
        static Case random(SplittableRandom r, PagedKvShape s, int nBlocks, boolean masked) {
            int capacity = nBlocks + 3;
            float[] slab = DeviceArrays.random(r, (int) (capacity * s.slotBytes() / s.dtype().bytes()), 1, s.dtype());
            int[] perm = new int[capacity];
            for (int i = 0; i < capacity; i++) {
                perm[i] = i;
            }
            for (int i = capacity - 1; i > 0; i--) {
                int j = r.nextInt(i + 1);
                int t = perm[i];
                perm[i] = perm[j];
                perm[j] = t;
            }
            int[] slots = java.util.Arrays.copyOf(perm, nBlocks);
            int[] valid = new int[nBlocks];
            java.util.Arrays.fill(valid, s.blockSize());
            if (nBlocks > 0) {
                valid[nBlocks - 1] = 1 + r.nextInt(s.blockSize());
            }
            byte[] mask = null;
            if (masked) {
                mask = new byte[Math.max(1, nBlocks * s.blockSize())];
                for (int i = 0; i < nBlocks * s.blockSize(); i++) {
                    mask[i] = (byte) (r.nextInt(5) == 0 ? 1 : 0);
                }
            }
            float[] q = DeviceArrays.random(r, s.heads() * s.headDim(), 1, DType.F32);
            return new Case(s, capacity, slab, slots, valid, mask, q);
        }
    }

    @Test
    void liveCountReadOnTheDevice_planForMoreEntries_equalsTheOracleOverTheLiveOnes() {
        SplittableRandom r = new SplittableRandom(23);
        MemoryLedger.Snapshot before = MemoryLedger.snapshot();
        try (CudaContext ctx = CudaContext.primary(0); CudaStream s = new CudaStream(ctx); CudaPagedAttention att = new CudaPagedAttention(ctx);
             DeviceArrays d = new DeviceArrays(ctx, s)) {
            PagedKvShape shape = PagedKvShape.dense(DType.BF16, 12, 4, 64, 16);
            int planned = 256;
            Case c = Case.random(r, shape, planned, true);
            float scale = 0.125f;
            DeviceBuffer slab = d.typed(c.slab(), DType.BF16);
            DeviceBuffer slots = d.ints(c.slots());
            DeviceBuffer mask = d.bytes(c.mask());
            DeviceBuffer q = d.floats(c.q());
            DeviceBuffer out = d.alloc((long) shape.heads() * shape.headDim() * 4);
            DeviceBuffer lse = d.alloc(shape.heads() * 4L);
            for (int live : new int[] {1, 2, 17, 128, 255, 256}) {
                DeviceBuffer count = d.ints(new int[] {live});
                int[] v = c.valid().clone();
                v[live - 1] = shape.blockSize(); // the entries past live are not a causal edge: every live one is full
                DeviceBuffer liveValid = d.ints(v);
                ReferenceOps.Attention want = ReferenceOps.pagedAttention(shape, c.q(), c.slab(), c.slots(), v, c.mask(), live, scale);
                att.attendLiveAsync(shape, q.address(), slab.address(), slab.bytes(), slots.address(), liveValid.address(), mask.address(), 0,
                        count.address(), planned, scale, out.address(), lse.address(), s);
                assertClose(want, d.download(out, shape.heads() * shape.headDim()), d.download(lse, shape.heads()),
                        "live " + live + " of " + planned + " planned");
            }
        }
        before.assertNoLeaks();
    }

    @Test
    void attention_matchesTheOracle_everyDtype_gqa_masks_manySplits() {
        SplittableRandom r = new SplittableRandom(17);
        MemoryLedger.Snapshot before = MemoryLedger.snapshot();
        try (CudaContext ctx = CudaContext.primary(0); CudaStream s = new CudaStream(ctx); CudaPagedAttention att = new CudaPagedAttention(ctx);
             DeviceArrays d = new DeviceArrays(ctx, s)) {
            for (DType t : DType.values()) {
                for (int[] g : new int[][] {{4, 4, 64, 16}, {8, 2, 128, 16}, {6, 1, 40, 8}, {32, 8, 128, 32}, {2, 1, 256, 2}}) {
                    PagedKvShape shape = PagedKvShape.dense(t, g[0], g[1], g[2], g[3]);
                    for (int nBlocks : new int[] {0, 1, 3, 257, 2000}) {
                        if ((long) nBlocks * shape.blockSize() * shape.kvHeads() * shape.headDim() > (8L << 20)) {
                            continue; // keep the Java oracle's slab under 64 MiB
                        }
                        for (boolean masked : new boolean[] {false, true}) {
                            Case c = Case.random(r, shape, nBlocks, masked);
                            float scale = (float) (1 / Math.sqrt(shape.headDim()));
                            ReferenceOps.Attention want = ReferenceOps.pagedAttention(shape, c.q(), c.slab(), c.slots(), c.valid(), c.mask(),
                                    nBlocks, scale);
                            DeviceBuffer slab = d.typed(c.slab(), t);
                            DeviceBuffer slots = d.ints(c.slots().length == 0 ? new int[1] : c.slots());
                            DeviceBuffer valid = d.ints(c.valid().length == 0 ? new int[1] : c.valid());
                            DeviceBuffer mask = c.mask() == null ? null : d.bytes(c.mask());
                            DeviceBuffer q = d.floats(c.q());
                            DeviceBuffer out = d.alloc((long) shape.heads() * shape.headDim() * 4);
                            DeviceBuffer lse = d.alloc(shape.heads() * 4L);
                            att.attendAsync(shape, q.address(), slab.address(), slab.bytes(), slots.address(), valid.address(),
                                    mask == null ? 0 : mask.address(), nBlocks, scale, out.address(), lse.address(), s);
                            assertClose(want, d.download(out, shape.heads() * shape.headDim()), d.download(lse, shape.heads()),
                                    t + " " + java.util.Arrays.toString(g) + " blocks " + nBlocks + (masked ? " masked" : ""));
                        }
                    }
                    d.close();
                }
            }
        }
        before.assertNoLeaks();
    }

    @Test
    void attention_withAHeadMask_matchesTheOracle_everyDtype_gqa_headChunks_aKvHeadWithNoEntry() {
        SplittableRandom r = new SplittableRandom(31);
        MemoryLedger.Snapshot before = MemoryLedger.snapshot();
        try (CudaContext ctx = CudaContext.primary(0); CudaStream s = new CudaStream(ctx); CudaPagedAttention att = new CudaPagedAttention(ctx);
             DeviceArrays d = new DeviceArrays(ctx, s)) {
            for (DType t : DType.values()) {
                // G = 1; G = 4; a group of 12 (two CTAs per KV head: head chunks of 8 and 4); Llama 3 8B's heads.
                for (int[] g : new int[][] {{4, 4, 64, 16}, {8, 2, 128, 16}, {24, 2, 64, 16}, {32, 8, 128, 16}}) {
                    PagedKvShape shape = PagedKvShape.dense(t, g[0], g[1], g[2], g[3]);
                    for (int nBlocks : new int[] {1, 3, 257, 2000}) {
                        if ((long) nBlocks * shape.blockSize() * shape.kvHeads() * shape.headDim() > (8L << 20)) {
                            continue; // keep the Java oracle's slab under 64 MiB
                        }
                        Case c = Case.random(r, shape, nBlocks, true);
                        byte[] headMask = DeviceArrays.randomHeadMask(r, nBlocks, shape.kvHeads()); // one KV head keeps no entry
                        float scale = (float) (1 / Math.sqrt(shape.headDim()));
                        ReferenceOps.Attention want = ReferenceOps.pagedAttention(shape, c.q(), c.slab(), c.slots(), c.valid(), c.mask(),
                                headMask, nBlocks, scale);
                        DeviceBuffer slab = d.typed(c.slab(), t);
                        DeviceBuffer slots = d.ints(c.slots());
                        DeviceBuffer valid = d.ints(c.valid());
                        DeviceBuffer mask = d.bytes(c.mask());
                        DeviceBuffer dHeadMask = d.bytes(headMask);
                        DeviceBuffer q = d.floats(c.q());
                        DeviceBuffer out = d.alloc((long) shape.heads() * shape.headDim() * 4);
                        DeviceBuffer lse = d.alloc(shape.heads() * 4L);
                        att.attendAsync(shape, q.address(), slab.address(), slab.bytes(), slots.address(), valid.address(), mask.address(),
                                dHeadMask.address(), nBlocks, scale, out.address(), lse.address(), s);
                        assertClose(want, d.download(out, shape.heads() * shape.headDim()), d.download(lse, shape.heads()),
                                t + " " + java.util.Arrays.toString(g) + " blocks " + nBlocks + " head-masked");
                    }
                    d.close();
                }
            }
        }
        before.assertNoLeaks();
    }

    @Test
    void devicePartAndMappedHostPart_mergeIntoTheWhole() {
        SplittableRandom r = new SplittableRandom(23);
        PagedKvShape shape = PagedKvShape.dense(DType.BF16, 8, 2, 64, 16);
        MemoryLedger.Snapshot before = MemoryLedger.snapshot();
        try (CudaContext ctx = CudaContext.primary(0); CudaStream s = new CudaStream(ctx); CudaPagedAttention att = new CudaPagedAttention(ctx);
             DeviceArrays d = new DeviceArrays(ctx, s)) {
            Case c = Case.random(r, shape, 40, true);
            float scale = 0.125f;
            ReferenceOps.Attention whole = ReferenceOps.pagedAttention(shape, c.q(), c.slab(), c.slots(), c.valid(), c.mask(), 40, scale);
            DeviceBuffer slab = d.typed(c.slab(), DType.BF16);
            long slabBytes = c.capacity() * shape.slotBytes();
            try (PinnedBuffer hostSlab = new PinnedBuffer(ctx, slabBytes)) {
                CudaCopies.deviceToHostAsync(hostSlab, 0, slab, 0, slabBytes, s); // the same bytes, now in host memory
                s.synchronize();
                int split = 25; // list entries [0, 25) on the device, [25, 40) read from host memory over PCIe
                int rows = shape.blockSize();
                DeviceBuffer q = d.floats(c.q());
                DeviceBuffer slots1 = d.ints(java.util.Arrays.copyOfRange(c.slots(), 0, split));
                DeviceBuffer valid1 = d.ints(java.util.Arrays.copyOfRange(c.valid(), 0, split));
                DeviceBuffer mask1 = d.bytes(java.util.Arrays.copyOfRange(c.mask(), 0, split * rows));
                DeviceBuffer slots2 = d.ints(java.util.Arrays.copyOfRange(c.slots(), split, 40));
                DeviceBuffer valid2 = d.ints(java.util.Arrays.copyOfRange(c.valid(), split, 40));
                DeviceBuffer mask2 = d.bytes(java.util.Arrays.copyOfRange(c.mask(), split * rows, 40 * rows));
                int hd = shape.heads() * shape.headDim();
                DeviceBuffer o1 = d.alloc(hd * 4L);
                DeviceBuffer l1 = d.alloc(shape.heads() * 4L);
                DeviceBuffer o2 = d.alloc(hd * 4L);
                DeviceBuffer l2 = d.alloc(shape.heads() * 4L);
                att.attendAsync(shape, q.address(), slab.address(), slabBytes, slots1.address(), valid1.address(), mask1.address(), split, scale,
                        o1.address(), l1.address(), s);
                // UVA: the pinned allocation's host address is valid on the device.
                att.attendAsync(shape, q.address(), hostSlab.address(), slabBytes, slots2.address(), valid2.address(), mask2.address(), 40 - split,
                        scale, o2.address(), l2.address(), s);
                att.mergeAsync(o1.address(), l1.address(), o2.address(), l2.address(), o1.address(), l1.address(), shape.heads(),
                        shape.headDim(), s);
                assertClose(whole, d.download(o1, hd), d.download(l1, shape.heads()), "device + host parts merged");
                // the same two parts in one launch, and a prefill chunk's 5 rows cut at positions 390 .. 394 over them
                DeviceBuffer o = d.alloc(5L * hd * 4);
                DeviceBuffer l = d.alloc(5L * shape.heads() * 4);
                PagedPart device = new PagedPart(slab.address(), slabBytes, slots1.address(), valid1.address(), 0, mask1.address(), 0, split);
                int[] blocks2 = new int[40 - split];
                for (int b = 0; b < blocks2.length; b++) {
                    blocks2[b] = split + b;
                }
                PagedPart host = new PagedPart(hostSlab.address(), slabBytes, slots2.address(), valid2.address(), d.ints(blocks2).address(),
                        mask2.address(), 0, 40 - split);
                att.attendPartsAsync(shape, q.address(), device, host, scale, o.address(), l.address(), s);
                assertClose(whole, d.download(o, hd), d.download(l, shape.heads()), "device + host parts in one launch");
                float[] q5 = DeviceArrays.random(r, 5 * hd, 1, DType.F32);
                DeviceBuffer q5d = d.floats(q5);
                att.attendPartsRowsAsync(shape, q5d.address(), 5, 390, device, host, scale, o.address(), l.address(), s);
                ReferenceOps.Attention chunk = ReferenceOps.pagedAttentionRows(shape, q5, 5, 390, null, c.slab(), c.slots(), c.valid(),
                        c.mask(), null, 40, scale);
                assertClose(chunk, d.download(o, 5 * hd), d.download(l, 5 * shape.heads()), "5 rows, each cut at its position, two parts");
            }
        }
        before.assertNoLeaks();
    }

    @Test
    void slotIdsOutsideTheSlab_areSkippedNotRead() {
        SplittableRandom r = new SplittableRandom(29);
        PagedKvShape shape = PagedKvShape.dense(DType.F32, 4, 2, 32, 8);
        try (CudaContext ctx = CudaContext.primary(0); CudaStream s = new CudaStream(ctx); CudaPagedAttention att = new CudaPagedAttention(ctx);
             DeviceArrays d = new DeviceArrays(ctx, s)) {
            Case c = Case.random(r, shape, 4, false);
            int[] good = java.util.Arrays.copyOf(c.slots(), 2);
            ReferenceOps.Attention want = ReferenceOps.pagedAttention(shape, c.q(), c.slab(), good, null, null, 2, 0.3f);
            int[] withBad = {good[0], -1, c.capacity(), good[1]};
            DeviceBuffer slab = d.typed(c.slab(), DType.F32);
            DeviceBuffer slots = d.ints(withBad);
            DeviceBuffer q = d.floats(c.q());
            DeviceBuffer out = d.alloc(4L * shape.heads() * shape.headDim());
            DeviceBuffer lse = d.alloc(4L * shape.heads());
            att.attendAsync(shape, q.address(), slab.address(), slab.bytes(), slots.address(), 0, 0, 4, 0.3f, out.address(), lse.address(), s);
            assertClose(want, d.download(out, shape.heads() * shape.headDim()), d.download(lse, shape.heads()), "bad slots skipped");
            ctx.synchronize(); // the context is still healthy
        }
    }
}

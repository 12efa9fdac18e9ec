package io.tierkv.model.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.tierkv.core.DType;
import io.tierkv.core.memory.MemoryLedger;
import io.tierkv.cuda.driver.Backend;
import io.tierkv.cuda.driver.BackendSelection;
import io.tierkv.cuda.ops.CudaHeadSlices;
import io.tierkv.cuda.ops.PagedKvShape;
import io.tierkv.model.generate.HostRead;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The per-head host-slice choice on the GPU ({@code head_slices.cu} through {@link CudaStepDevice#headSlices}) against the
 * host mirror, which runs model's {@code HeadSlices} itself: the same head mask and count on random scores with ties,
 * blocks that must be read ({@code +inf}), slices that weigh nothing ({@code -inf}), NaN scores, a {@code min} gate and a cap taken
 * from device memory, over sizes from one block to more pairs than the CTA has threads. And both stages of {@code keys=C} in
 * one launch ({@link StepDevice#headSlicesExact}: {@code head_slices_exact}) against the same stages launched one by one on
 * the GPU and against the host mirror's.
 */
@Tag("gpu")
class HeadSlicesGpuTest {
    @BeforeEach
    void needsGpu() {
        BackendSelection s = BackendSelection.probe("auto");
        assumeTrue(s.backend() == Backend.CUDA, () -> "no usable GPU: " + s.reason());
    }

    @ParameterizedTest(name = "n {0}, heads {1}/{2}, cap {3}, capFrom {4}, min {5}")
    @CsvSource({
        "1, 4, 2, 8, -1, 0",
        "7, 8, 4, 10, -1, 0",
        "33, 32, 8, 12, 5, 0",
        "300, 12, 4, 40, -1, 0.05",
        "600, 32, 8, 24, 30, 0",
        "64, 16, 16, 3, -1, 0",
        "20, 8, 4, 30, -1, 0.3", // ranked (80 pairs) with the min gate
        "2000, 32, 8, 20, -1, 0", // 16000 pairs: a launch of 1024 threads (the others take 1 to 19 warps)
    })
    void choice_onTheGpu_equalsHeadSlices(int n, int heads, int kvHeads, int cap, int capFrom, double min) {
        SplittableRandom r = new SplittableRandom(n * 31L + heads);
        float[] scores = new float[n * heads];
        for (int i = 0; i < scores.length; i++) {
            int kind = r.nextInt(20);
            scores[i] = kind == 0 ? Float.POSITIVE_INFINITY : kind == 1 ? Float.NEGATIVE_INFINITY : kind == 2 ? Float.NaN
                    : kind < 6 ? 1.5f : (float) r.nextGaussian() * 3; // repeated values make ties
        }
        byte[][] masks = new byte[2][];
        int[] taken = new int[2];
        MemoryLedger.Snapshot before = MemoryLedger.snapshot();
        for (int d = 0; d < 2; d++) {
            try (StepDevice dev = d == 0 ? new HostStepDevice() : new CudaStepDevice()) {
                long s = dev.alloc(4L * scores.length);
                ByteBuffer b = ByteBuffer.allocate(4 * scores.length).order(ByteOrder.LITTLE_ENDIAN);
                b.asFloatBuffer().put(scores);
                dev.upload(s, b);
                long from = 0;
                if (capFrom >= 0) {
                    from = dev.alloc(4);
                    dev.setInt(from, capFrom);
                }
                long value = dev.alloc(4L * n * kvHeads);
                long mask = dev.alloc(n * kvHeads);
                long count = dev.alloc(4);
                dev.headSlices(s, n, heads, kvHeads, cap, from, min, value, mask, count);
                ByteBuffer m = ByteBuffer.allocate(n * kvHeads);
                dev.download(mask, m);
                masks[d] = m.array();
                ByteBuffer c = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
                dev.download(count, c);
                taken[d] = c.getInt(0);
            }
        }
        before.assertNoLeaks();
        assertEquals(taken[0], taken[1], "slices chosen");
        assertArrayEquals(masks[0], masks[1], "head mask, [block][KV head]");
    }

    @ParameterizedTest(name = "{0}, n {1}, heads {2}/{3}, headDim {4}, keys {5}, slices {6}, min {7}")
    @CsvSource({
        "BF16, 1, 4, 2, 64, 3, 2, 0",
        "BF16, 24, 12, 4, 64, 12, 8, 0", // bench decode's model: 96 pairs, ranked
        "F32, 40, 8, 2, 32, 10, 6, 0.05",
        "F16, 96, 12, 4, 64, 12, 8, 0",
        "BF16, 130, 8, 8, 128, 40, 24, 0", // 1040 pairs: picked one by one, not by rank
        "BF16, 300, 32, 8, 128, 12, 8, 0", // too large for one CTA's shared memory: the three launches
    })
    void bothStages_inOneLaunch_equalTheStagesOneByOne_andTheMirror(DType t, int n, int heads, int kvHeads, int headDim, int keys,
                                                                    int slices, double min) {
        PagedKvShape kv = PagedKvShape.dense(t, heads, kvHeads, headDim, 16);
        int capacity = n + 3;
        SplittableRandom r = new SplittableRandom(n * 131L + headDim);
        float[] scores = new float[n * heads];
        for (int i = 0; i < scores.length; i++) {
            int kind = r.nextInt(24);
            scores[i] = kind == 0 ? Float.POSITIVE_INFINITY : kind == 1 ? Float.NEGATIVE_INFINITY : kind == 2 ? Float.NaN
                    : kind < 5 ? 1.5f : (float) r.nextGaussian() * 3;
        }
        float[] q = new float[heads * headDim];
        for (int i = 0; i < q.length; i++) {
            q[i] = (float) r.nextGaussian();
        }
        byte[] slab = randomSlab(r, t, capacity * kv.slotBytes());
        int[] slots = new int[n];
        int[] validRows = new int[n];
        byte[] rowMask = new byte[n * kv.blockSize()];
        for (int i = 0; i < n; i++) {
            int kind = r.nextInt(16);
            slots[i] = kind == 0 ? -1 : kind == 1 ? capacity + 2 : r.nextInt(capacity); // two kinds of slot out of range
            validRows[i] = kind == 2 ? r.nextInt(kv.blockSize()) : kv.blockSize();
            for (int row = 0; row < kv.blockSize(); row++) {
                rowMask[i * kv.blockSize() + row] = (byte) (kind == 3 || r.nextInt(10) == 0 ? 1 : 0);
            }
        }
        boolean oneLaunch = CudaHeadSlices.exactBytes(n, heads, kvHeads) > 0;
        assertEquals(n < 300, oneLaunch, "the cases cover both sides of the one-launch limit");
        byte[][] masks = new byte[3][];
        int[][] taken = new int[3][];
        MemoryLedger.Snapshot before = MemoryLedger.snapshot();
        for (int d = 0; d < 3; d++) { // 0: the mirror, 1: the GPU in one launch, 2: the GPU stage by stage
            try (StepDevice dev = d == 0 ? new HostStepDevice() : new CudaStepDevice()) {
                dev.digests(HostSelection.digestShape(kv, HostRead.DEFAULT), 1); // digestExact checks the slab against it
                long dScores = upload(dev, floats(scores));
                long dq = upload(dev, floats(q));
                long dSlab = upload(dev, ByteBuffer.wrap(slab));
                long dSlots = upload(dev, ints(slots));
                long dValid = upload(dev, ints(validRows));
                long dRowMask = upload(dev, ByteBuffer.wrap(rowMask));
                long value = dev.alloc(4L * n * kvHeads);
                long exact = dev.alloc(4L * n * heads);
                long mask = dev.alloc(n * kvHeads);
                long counts = dev.alloc(8);
                float scale = (float) (1 / Math.sqrt(headDim));
                long slabBytes = capacity * kv.slotBytes();
                if (d < 2) {
                    dev.headSlicesExact(kv, dq, scale, dScores, n, keys, slices, min, dSlab, slabBytes, 0, dSlots, dValid, dRowMask, value,
                            exact, mask, counts);
                } else {
                    dev.headSlices(dScores, n, heads, kvHeads, keys, 0, min, value, mask, counts);
                    dev.digestExact(kv, dq, scale, dSlab, slabBytes, 0, dSlots, dValid, dRowMask, mask, n, exact);
                    dev.headSlices(exact, n, heads, kvHeads, slices, counts, min, value, mask, counts + 4);
                }
                ByteBuffer m = ByteBuffer.allocate(n * kvHeads);
                dev.download(mask, m);
                masks[d] = m.array();
                ByteBuffer c = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
                dev.download(counts, c);
                taken[d] = new int[] {c.getInt(0), c.getInt(4)};
            }
        }
        before.assertNoLeaks();
        assertTrue(taken[0][1] > 0 && taken[0][1] <= Math.min(slices, taken[0][0]), "the mirror chose " + taken[0][1] + " of "
                + taken[0][0] + " candidates");
        for (int d = 1; d < 3; d++) {
            String what = d == 1 ? "one launch" : "stage by stage";
            assertArrayEquals(taken[0], taken[d], what + ": candidates scored, slices chosen");
            assertArrayEquals(masks[0], masks[d], what + ": head mask, [block][KV head]");
        }
    }

    private static long upload(StepDevice dev, ByteBuffer b) {
        long at = dev.alloc(b.capacity());
        dev.upload(at, b);
        return at;
    }

    private static ByteBuffer floats(float[] v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(v);
        return b;
    }

    private static ByteBuffer ints(int[] v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        b.asIntBuffer().put(v);
        return b;
    }

    /** Finite keys of dtype t, between 1/8 and 4 in magnitude. */
    private static byte[] randomSlab(SplittableRandom r, DType t, long bytes) {
        ByteBuffer b = ByteBuffer.allocate(Math.toIntExact(bytes)).order(ByteOrder.LITTLE_ENDIAN);
        while (b.hasRemaining()) {
            int sign = r.nextInt(2);
            switch (t) {
                case F32 -> b.putFloat((sign == 0 ? 1 : -1) * (0.125f + 3.875f * (float) r.nextDouble()));
                case F16 -> b.putShort((short) (sign << 15 | (12 + r.nextInt(5)) << 10 | r.nextInt(1 << 10)));
                default -> b.putShort((short) (sign << 15 | (124 + r.nextInt(5)) << 7 | r.nextInt(1 << 7)));
            }
        }
        return b.array();
    }
}

package io.tierkv.model.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.tierkv.core.memory.MemoryLedger;
import io.tierkv.cuda.driver.Backend;
import io.tierkv.cuda.driver.BackendSelection;
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
 * from device memory, over sizes from one block to more pairs than the CTA has threads.
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
}

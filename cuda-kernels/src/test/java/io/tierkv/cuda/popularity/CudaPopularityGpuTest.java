package io.tierkv.cuda.popularity;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.tierkv.core.memory.MemoryLedger;
import io.tierkv.core.popularity.ReferencePopularityCounter;
import io.tierkv.cuda.driver.CudaContext;
import io.tierkv.cuda.driver.CudaCopies;
import io.tierkv.cuda.driver.DeviceBuffer;
import io.tierkv.cuda.driver.Gpu;
import io.tierkv.cuda.driver.KernelModule;
import io.tierkv.cuda.driver.PinnedBuffer;
import java.nio.IntBuffer;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The CUDA popularity kernel against the oracle, on the shared conformance cases and in batched form. */
@Tag("gpu")
class CudaPopularityGpuTest {

    @BeforeEach
    void needsGpu() {
        Gpu.assumeCuda();
    }

    @Test
    void cudaCounter_matchesTheReferenceOnEveryCase() {
        MemoryLedger.Snapshot before = MemoryLedger.snapshot();
        try (CudaContext ctx = CudaContext.primary(0); CudaPopularityCounter counter = new CudaPopularityCounter(ctx)) {
            PopularityConformanceTest.assertMatchesReference(counter);
        }
        before.assertNoLeaks();
    }

    @Test
    void batchedSteps_withGrowingKeysAndOneSharedCountRow_matchTheReferenceSummed() {
        int heads = 8;
        int steps = 5;
        int keys0 = 700;
        int stride = keys0 + steps;
        int k = 33;
        SplittableRandom rnd = new SplittableRandom(7);
        float[] probs = new float[steps * heads * stride];
        for (int i = 0; i < probs.length; i++) {
            probs[i] = rnd.nextInt(0, 50) / 64f; // ties on purpose
        }
        int[] expectedCounts = new int[stride];
        ReferencePopularityCounter ref = new ReferencePopularityCounter();
        int[] sel = new int[k];
        for (int s = 0; s < steps; s++) {
            ref.count(probs, s * heads * stride, heads, stride, keys0 + s, k, sel, expectedCounts);
        }
        MemoryLedger.Snapshot before = MemoryLedger.snapshot();
        try (CudaContext ctx = CudaContext.primary(0);
             KernelModule module = KernelModule.load(ctx, PopularityKernel.MODULE);
             io.tierkv.cuda.driver.CudaStream stream = new io.tierkv.cuda.driver.CudaStream(ctx);
             PopularityKernel kernel = new PopularityKernel(ctx, module, stream);
             PinnedBuffer host = new PinnedBuffer(ctx, (long) probs.length * 4 + (long) stride * 4 + (long) steps * (k + 1) * 4);
             DeviceBuffer dProbs = new DeviceBuffer(ctx, (long) probs.length * 4);
             DeviceBuffer dCounts = new DeviceBuffer(ctx, (long) stride * 4);
             DeviceBuffer dOut = new DeviceBuffer(ctx, (long) steps * k * 4);
             DeviceBuffer dOutCount = new DeviceBuffer(ctx, (long) steps * 4)) {
            host.buffer().asFloatBuffer().put(0, probs);
            CudaCopies.hostToDeviceAsync(dProbs, 0, host, 0, (long) probs.length * 4, stream);
            dCounts.fill(0, dCounts.bytes(), (byte) 0, stream);
            for (int repeat = 0; repeat < 2; repeat++) { // the second launch proves the scratch was left clean
                kernel.launch(dProbs.address(), (long) heads * stride, steps, heads, stride, keys0, 1, k,
                        dOut.address(), dOutCount.address(), dCounts.address(), 0);
            }
            long countsAt = (long) probs.length * 4;
            CudaCopies.deviceToHostAsync(host, countsAt, dCounts, 0, (long) stride * 4, stream);
            CudaCopies.deviceToHostAsync(host, countsAt + stride * 4L, dOutCount, 0, steps * 4L, stream);
            stream.synchronize();
            IntBuffer counts = host.buffer(countsAt, stride * 4).asIntBuffer();
            int[] actual = new int[stride];
            counts.get(0, actual);
            int[] twice = Arrays.stream(expectedCounts).map(c -> 2 * c).toArray();
            assertArrayEquals(twice, actual);
            IntBuffer n = host.buffer(countsAt + stride * 4L, steps * 4).asIntBuffer();
            for (int s = 0; s < steps; s++) {
                assertEquals(k, n.get(s), "step " + s);
            }
        }
        before.assertNoLeaks();
    }
}

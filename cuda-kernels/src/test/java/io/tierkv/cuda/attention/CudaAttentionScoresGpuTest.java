package io.tierkv.cuda.attention;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.tierkv.core.memory.MemoryLedger;
import io.tierkv.cuda.driver.CudaContext;
import io.tierkv.cuda.driver.CudaCopies;
import io.tierkv.cuda.driver.CudaStream;
import io.tierkv.cuda.driver.DeviceBuffer;
import io.tierkv.cuda.driver.Gpu;
import io.tierkv.cuda.driver.PinnedBuffer;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The device scores (cuBLAS and the block_scores kernel) and softmax against the Java oracle, on shapes whose blocks
 * are a multiple of 16 bytes apart; other block sizes are refused with one clear error before anything is launched.
 */
@Tag("gpu")
class CudaAttentionScoresGpuTest {

    @BeforeEach
    void needsGpu() {
        Gpu.assumeCuda();
    }

    @Test
    void kernelEngine_matchesTheOracle() {
        run(CudaAttentionScores.Engine.KERNEL);
    }

    @Test
    void cublasEngine_matchesTheOracle() {
        assumeTrue(CublasSupport.available(), () -> "cuBLAS skipped: " + CublasSupport.reason());
        run(CudaAttentionScores.Engine.CUBLAS);
    }

    @Test
    void blocksNotAMultipleOf16BytesApart_areRefusedWithAClearError_andTheContextStaysUsable() {
        ScoresCase bad = ScoresCase.all().stream().filter(c -> c.shape().blockBytes() % 16 != 0).findFirst().orElseThrow();
        MemoryLedger.Snapshot before = MemoryLedger.snapshot();
        try (CudaContext ctx = CudaContext.primary(0); CudaAttentionScores gpu = new CudaAttentionScores(ctx, CudaAttentionScores.Engine.KERNEL);
             DeviceBuffer pool = new DeviceBuffer(ctx, bad.pool().capacity())) {
            float[] probs = new float[bad.shape().heads() * bad.tokens()];
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> gpu.probabilities(bad.q(), bad.shape(), pool, bad.blocks(), bad.tokens(), probs, bad.tokens()));
            assertTrue(e.getMessage().contains("blockBytes must be a multiple of 16")
                    && e.getMessage().contains(Long.toString(bad.shape().blockBytes())), e.getMessage());
            ctx.synchronize(); // nothing misaligned was launched
        }
        before.assertNoLeaks();
    }

    private static void run(CudaAttentionScores.Engine engine) {
        MemoryLedger.Snapshot before = MemoryLedger.snapshot();
        try (CudaContext ctx = CudaContext.primary(0); CudaAttentionScores gpu = new CudaAttentionScores(ctx, engine);
             CudaStream s = new CudaStream(ctx)) {
            for (ScoresCase c : ScoresCase.deviceAligned()) {
                int stride = c.tokens() + 1;
                float[] expected = new float[c.shape().heads() * stride];
                float[] actual = new float[c.shape().heads() * stride];
                new SimpleAttentionScores().probabilities(c.q(), c.shape(), c.pool(), c.blocks(), c.tokens(), expected, stride);
                int bytes = c.pool().capacity();
                try (PinnedBuffer host = new PinnedBuffer(ctx, bytes); DeviceBuffer pool = new DeviceBuffer(ctx, bytes)) {
                    host.buffer().put(0, c.pool(), 0, bytes);
                    CudaCopies.hostToDeviceAsync(pool, 0, host, 0, bytes, s);
                    s.synchronize();
                    gpu.probabilities(c.q(), c.shape(), pool, c.blocks(), c.tokens(), actual, stride);
                }
                ScoresCase.assertClose(expected, actual, c.shape().heads(), c.tokens(), stride, gpu.name() + " on " + c);
            }
        }
        before.assertNoLeaks();
    }
}

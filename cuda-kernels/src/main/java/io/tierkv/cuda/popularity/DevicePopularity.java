package io.tierkv.cuda.popularity;

import io.tierkv.cuda.attention.CudaAttentionScores;
import io.tierkv.cuda.attention.ScoreShape;
import io.tierkv.cuda.driver.CudaContext;
import io.tierkv.cuda.driver.CudaCopies;
import io.tierkv.cuda.driver.CudaStream;
import io.tierkv.cuda.driver.DeviceBuffer;
import io.tierkv.cuda.driver.KernelModule;
import io.tierkv.cuda.driver.PinnedBuffer;

/**
 * The whole popularity pipeline of one layer on the device, without libtorch: per decode step, the
 * query's attention probabilities over the device-resident blocks ({@link CudaAttentionScores}) and
 * the top-k counts ({@link PopularityKernel}) stay on the GPU; only the query goes up. At the end of a
 * window {@link #downloadCounts} brings the counts to the host, where core's level state machine turns
 * them into transitions. One stream orders everything. Not thread-safe.
 */
public final class DevicePopularity implements AutoCloseable {
    private final CudaContext context;
    private final ScoreShape shape;
    private final int maxTokens;
    private final int k;
    private final CudaStream stream;
    private final KernelModule module;
    private final PopularityKernel kernel;
    private final CudaAttentionScores scores;
    private final int stride;
    private final DeviceBuffer probs;   // [heads][stride] f32, stride = maxTokens rounded up to whole blocks
    private final DeviceBuffer counts;  // [maxTokens] i32, the window's counts
    private final DeviceBuffer out;     // [1 + k] i32: selected count, then positions of the last step
    private final PinnedBuffer host;    // [max(maxTokens, heads * stride)] x 4 bytes of staging for downloads

    /** A pipeline for up to {@code maxTokens} keys, selecting {@code k} per step; counts start at zero. */
    public DevicePopularity(CudaContext context, ScoreShape shape, int maxTokens, int k) {
        if (maxTokens <= 0 || k <= 0) {
            throw new IllegalArgumentException("maxTokens and k must be > 0, were " + maxTokens + " and " + k);
        }
        this.context = context;
        this.shape = shape;
        this.maxTokens = maxTokens;
        this.k = k;
        this.stride = CudaAttentionScores.paddedStride(shape, maxTokens);
        this.stream = new CudaStream(context);
        this.module = KernelModule.load(context, PopularityKernel.MODULE);
        this.kernel = new PopularityKernel(context, module, stream);
        this.scores = new CudaAttentionScores(context);
        this.probs = new DeviceBuffer(context, (long) shape.heads() * stride * Float.BYTES);
        this.counts = new DeviceBuffer(context, (long) maxTokens * Integer.BYTES);
        this.out = new DeviceBuffer(context, (1L + k) * Integer.BYTES);
        this.host = new PinnedBuffer(context, Math.max((long) maxTokens, (long) shape.heads() * stride) * Float.BYTES);
        resetCounts();
    }

    /** Enqueues one step: probabilities of {@code q} over {@code tokens} keys in {@code blocks} of {@code pool}, then the counts. */
    public void step(float[] q, DeviceBuffer pool, int[] blocks, int tokens) {
        if (tokens > maxTokens) {
            throw new IllegalArgumentException("tokens must be <= maxTokens " + maxTokens + ", was " + tokens);
        }
        scores.probabilitiesAsync(q, shape, pool, blocks, tokens, probs.address(), stride, stream);
        long o = out.address();
        kernel.launch(probs.address(), 0, 1, shape.heads(), stride, tokens, 0, k, o + Integer.BYTES, o, counts.address(), 0);
    }

    /** Waits for the queued steps and copies the first {@code tokens} counts into {@code dst}. */
    public void downloadCounts(int[] dst, int tokens) {
        CudaCopies.deviceToHostAsync(host, 0, counts, 0, (long) tokens * Integer.BYTES, stream);
        stream.synchronize();
        host.buffer(0, tokens * Integer.BYTES).asIntBuffer().get(0, dst, 0, tokens);
    }

    /** Waits for the queued steps and copies the last step's probabilities ({@code heads} rows of {@code tokens}) into {@code dst}. */
    public void downloadProbabilities(float[] dst, int tokens) {
        long bytes = (long) shape.heads() * stride * Float.BYTES;
        CudaCopies.deviceToHostAsync(host, 0, probs, 0, bytes, stream);
        stream.synchronize();
        java.nio.FloatBuffer f = host.buffer(0, (int) bytes).asFloatBuffer();
        for (int h = 0; h < shape.heads(); h++) {
            f.get(h * stride, dst, h * tokens, tokens);
        }
    }

    /** Enqueues zeroing of the counts (a new window). */
    public void resetCounts() {
        counts.fill(0, counts.bytes(), (byte) 0, stream);
    }

    /** Which engine computes the scores (cuBLAS or the kernel). */
    public CudaAttentionScores.Engine engine() {
        return scores.engine();
    }

    /** Waits for queued work and frees everything; idempotent. */
    @Override
    public void close() {
        if (stream.isClosed()) {
            return;
        }
        stream.synchronize();
        try (module; stream; kernel; scores; probs; counts; out; host) {
            // closed in reverse order by try-with-resources
        }
    }
}

package io.tierkv.cuda.popularity;

import io.tierkv.cuda.attention.CudaAttentionScores;
import io.tierkv.cuda.attention.ScoreShape;
import io.tierkv.cuda.driver.CudaContext;
import io.tierkv.cuda.driver.CudaCopies;
import io.tierkv.cuda.driver.CudaStream;
import io.tierkv.cuda.driver.DeviceBuffer;
import io.tierkv.cuda.driver.KernelModule;
import io.tierkv.cuda.driver.LaunchArgs;
import io.tierkv.cuda.driver.Owned;
import io.tierkv.cuda.driver.PinnedBuffer;
import io.tierkv.cuda.driver.ReuseFence;
import java.nio.ByteBuffer;

/**
 * The whole popularity pipeline of one layer on the device, without libtorch: per decode step, the
 * query's attention probabilities over the device-resident blocks ({@link CudaAttentionScores}) and
 * the top-k counts ({@link PopularityKernel}) stay on the GPU; only the query goes up. At the end of a
 * window {@link #downloadCounts} brings the counts to the host, where core's level state machine turns
 * them into transitions. One stream orders everything. Not thread-safe.
 *
 * <p>Counts are kept by <em>token position</em>, not by position in the block list: list entry {@code i}
 * holds the tokens {@code blockFirstToken[i] + r}, so a list that changes between steps (blocks demoted,
 * dropped or reordered) still counts each token in its own slot. Evicted tokens, given by a byte mask over
 * the list positions, get probability 0, are left out of the softmax sum, and are never counted (the top-k
 * may pick one only when fewer than k live keys have a non-zero probability; it is then dropped).
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
    private final PinnedBuffer hostTable;   // per step: blockFirstToken i32 [blocks], then the mask u8 [stride]
    private final DeviceBuffer deviceTable; // the same on the device
    private final ReuseFence<CudaStream> hostTableFree;
    private final ReuseFence<CudaStream> deviceTableFree;
    private final int maskOffset;

    private final LaunchArgs args; // packed per launch: one native pointer per cuLaunchKernel

    /** A pipeline for up to {@code maxTokens} keys, selecting {@code k} per step; counts start at zero. */
    public DevicePopularity(CudaContext context, ScoreShape shape, int maxTokens, int k) {
        if (maxTokens <= 0 || k <= 0) {
            throw new IllegalArgumentException("maxTokens and k must be > 0, were " + maxTokens + " and " + k);
        }
        CudaAttentionScores.checkAligned(shape); // refused before anything is allocated
        this.context = context;
        this.shape = shape;
        this.maxTokens = maxTokens;
        this.k = k;
        this.stride = CudaAttentionScores.paddedStride(shape, maxTokens);
        int blocks = stride / shape.blockSize();
        this.maskOffset = (blocks * Integer.BYTES + 15) & ~15;
        Owned taken = new Owned(); // what a failure part way gives back, newest first
        try {
            this.stream = taken.add(new CudaStream(context));
            this.module = taken.add(KernelModule.load(context, PopularityKernel.MODULE));
            module.function(COUNT_TOKENS);
            this.kernel = taken.add(new PopularityKernel(context, module, stream));
            this.scores = taken.add(new CudaAttentionScores(context));
            this.probs = taken.add(new DeviceBuffer(context, (long) shape.heads() * stride * Float.BYTES));
            this.counts = taken.add(new DeviceBuffer(context, (long) maxTokens * Integer.BYTES));
            this.out = taken.add(new DeviceBuffer(context, (1L + k) * Integer.BYTES));
            this.host = taken.add(new PinnedBuffer(context, Math.max((long) maxTokens, (long) shape.heads() * stride) * Float.BYTES));
            this.hostTable = taken.add(new PinnedBuffer(context, maskOffset + (long) stride));
            this.deviceTable = taken.add(new DeviceBuffer(context, maskOffset + (long) stride));
            this.hostTableFree = taken.add(ReuseFence.create(context));
            this.deviceTableFree = taken.add(ReuseFence.create(context));
            this.args = taken.add(new LaunchArgs(context, 64));
            resetCounts();
        } catch (RuntimeException | Error e) {
            taken.closeAfter(e);
            throw e;
        }
    }

    /** The kernel that maps selected list positions to token positions and counts them. */
    static final String COUNT_TOKENS = "popularity_count_tokens";

    /**
     * Enqueues one step over a contiguous list: entry {@code i} holds tokens {@code i * blockSize + r}, none evicted.
     */
    public void step(float[] q, DeviceBuffer pool, int[] blocks, int tokens) {
        int used = shape.blocksFor(Math.max(tokens, 0));
        int[] first = new int[used];
        for (int i = 0; i < used; i++) {
            first[i] = i * shape.blockSize();
        }
        step(q, pool, blocks, first, null, tokens);
    }

    /**
     * Enqueues one step: the probabilities of {@code q} over the {@code tokens} list positions of {@code blocks}
     * in {@code pool} (position {@code p} is row {@code p % blockSize} of {@code blocks[p / blockSize]}), then the
     * top-k, counted at token positions {@code blockFirstToken[p / blockSize] + p % blockSize}.
     * {@code evicted} (null: none) has one byte per list position; non-zero excludes the key. All arrays may be
     * reused when this returns.
     *
     * @throws IllegalArgumentException when a token position falls outside {@code [0, maxTokens)}, or an array is short
     */
    public void step(float[] q, DeviceBuffer pool, int[] blocks, int[] blockFirstToken, byte[] evicted, int tokens) {
        checkTable(blockFirstToken, evicted, tokens, shape.blockSize(), maxTokens);
        int used = shape.blocksFor(tokens);
        hostTableFree.beforeHostWrite();
        ByteBuffer t = hostTable.buffer();
        t.asIntBuffer().put(0, blockFirstToken, 0, used);
        if (evicted != null) {
            t.put(maskOffset, evicted, 0, tokens);
        }
        long bytes = evicted != null ? maskOffset + (long) tokens : (long) used * Integer.BYTES;
        deviceTableFree.beforeDeviceUse(stream);
        CudaCopies.hostToDeviceAsync(deviceTable, 0, hostTable, 0, Math.max(bytes, 4), stream);
        hostTableFree.afterUse(stream);
        long mask = evicted != null ? deviceTable.address() + maskOffset : 0L;
        scores.probabilitiesAsync(q, shape, pool, blocks, tokens, probs.address(), stride, mask, stream);
        long o = out.address();
        kernel.launch(probs.address(), 0, 1, shape.heads(), stride, tokens, 0, k, o + Integer.BYTES, o, 0L, 0);
        // popularity_count_tokens(selected, outCount, k, blockFirstToken, blockSize, mask, maxTokens, counts)
        args.clear().i64(o + Integer.BYTES).i64(o).i32(k).i64(deviceTable.address()).i32(shape.blockSize()).i64(mask).i32(maxTokens)
                .i64(counts.address());
        module.launch(COUNT_TOKENS, 1, 1, 256, 0, stream, args);
        deviceTableFree.afterUse(stream);
    }

    /**
     * Checks a step's block table on the host: {@code tokens} in {@code [0, maxTokens]} and within the arrays,
     * every used entry's tokens {@code [first, first + rows)} inside {@code [0, maxTokens)}.
     */
    static void checkTable(int[] blockFirstToken, byte[] evicted, int tokens, int blockSize, int maxTokens) {
        if (tokens < 0 || tokens > maxTokens) {
            throw new IllegalArgumentException("tokens must be in [0, " + maxTokens + "], was " + tokens);
        }
        int used = (tokens + blockSize - 1) / blockSize;
        if (blockFirstToken.length < used) {
            throw new IllegalArgumentException("blockFirstToken has " + blockFirstToken.length + " entries, " + tokens
                    + " list positions need " + used);
        }
        if (evicted != null && evicted.length < tokens) {
            throw new IllegalArgumentException("evicted has " + evicted.length + " entries, fewer than tokens " + tokens);
        }
        for (int i = 0; i < used; i++) {
            int rows = Math.min(blockSize, tokens - i * blockSize);
            long first = blockFirstToken[i];
            if (first < 0 || first + rows > maxTokens) {
                throw new IllegalArgumentException("blockFirstToken[" + i + "] = " + first + " puts its " + rows
                        + " tokens outside [0, " + maxTokens + ")");
            }
        }
    }

    /** The token position of list position {@code p}: what the device counts (see {@link #step}). */
    static int tokenOf(int p, int[] blockFirstToken, int blockSize) {
        return blockFirstToken[p / blockSize] + p % blockSize;
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
        try (module; stream; kernel; scores; probs; counts; out; host; hostTable; deviceTable; hostTableFree; deviceTableFree; args) {
            stream.synchronize(); // closed in reverse order by try-with-resources, also when this wait fails (a sticky fault)
        }
    }
}

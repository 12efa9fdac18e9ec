package io.tierkv.cuda.popularity;

import io.tierkv.cuda.driver.CudaContext;
import io.tierkv.cuda.driver.CudaStream;
import io.tierkv.cuda.driver.DeviceBuffer;
import io.tierkv.cuda.driver.KernelModule;
import io.tierkv.cuda.driver.LaunchArgs;

/**
 * Launches {@code popularity_scores} then {@code popularity_select} ({@code src/main/cuda/popularity.cu}) on
 * device memory: the head sums and their histogram over the whole grid, then the top-k of every batch (a
 * layer, or a decode step), selected by every CTA over its own 1024 keys and narrowed by the last one, with
 * one count per selected token. The probabilities are read once. Results stay on the device; nothing is copied back. Owns the
 * kernel's scratch, so one instance serves one stream at a time; not thread-safe.
 *
 * <p>See {@link RadixSelectPopularityCounter} for the algorithm in Java, and the module README for the
 * bytes it moves and its bandwidth bound.
 */
public final class PopularityKernel implements AutoCloseable {
    /** The module ({@code popularity.cu}) and its kernel. */
    public static final String MODULE = "popularity";
    static final String SCORES = "popularity_scores";
    static final String SELECT = "popularity_select";
    static final int THREADS = 256;
    static final int TILE = 64;
    /** Keys per CTA of {@code popularity_select}. */
    static final int SELECT_TILE = 1024;
    /** Per-batch counters of {@code popularity_select}: arrivals, emitted, candidates, unused. */
    static final int COUNTERS = 4;
    static final int BINS = 2048;
    /** Candidates the last CTA keeps in shared memory before spilling to the global scratch row. */
    static final int SMEM_CANDIDATES = 2048;
    static final int DEFAULT_SMEM_LIMIT = 48 * 1024;
    /** The most heads one launch takes: their tile must fit in shared memory (227 KiB on sm_90, 163 KiB on sm_80). */
    public static final int MAX_HEADS = 512;

    private final CudaContext context;
    private final KernelModule module;
    private final CudaStream stream;
    private DeviceBuffer scores;      // (batches, capacity) u32: ordered head sums
    private DeviceBuffer candidates;  // (batches, capacity) u64: composite keys, used when the smem list overflows
    private DeviceBuffer hist;        // (batches, 2048) u32: first-digit histogram, zero between launches
    private DeviceBuffer arrivals;    // (batches, 4) u32: select counters, zero between launches
    private int capacity;
    private int batchCapacity;
    private int sharedAllowed = DEFAULT_SMEM_LIMIT;

    private final LaunchArgs args; // packed per launch: one native pointer per cuLaunchKernel

    /** A launcher over {@code module} (loaded from {@link #MODULE}) that enqueues on {@code stream}. */
    public PopularityKernel(CudaContext context, KernelModule module, CudaStream stream) {
        this.context = context;
        this.module = module;
        this.stream = stream;
        module.function(SCORES); // fail now, not at the first launch, if the module lacks them (then nothing was allocated)
        module.function(SELECT);
        this.args = new LaunchArgs(context, 256);
    }

    /**
     * Enqueues the selection for {@code batches} batches. Batch {@code b} reads {@code heads} rows of
     * {@code keys + b * keysStep} floats, row {@code h} at {@code probs + 4 * (b * batchStride + h * stride)};
     * writes its positions (unordered) to {@code out + 4 * b * k} and their number, {@code min(k, keys_b)},
     * to {@code outCount + 4 * b}; and, when {@code counts != 0}, adds one to
     * {@code counts[b * countsBatchStride + t]} per selected {@code t} (atomically: batches may share a row).
     * All addresses are device addresses; all strides count elements.
     */
    public void launch(long probs, long batchStride, int batches, int heads, int stride, int keys, int keysStep, int k,
                       long out, long outCount, long counts, long countsBatchStride) {
        int maxKeys = check(batches, heads, stride, keys, keysStep, k);
        if (probs == 0 || out == 0 || outCount == 0) {
            throw new IllegalArgumentException("probs, out and outCount must be device addresses, not 0");
        }
        ensureScratch(Math.max(1, maxKeys), batches);
        int shared = heads * TILE * Float.BYTES;
        if (shared > sharedAllowed) {
            module.allowSharedMemory(SCORES, shared);
            sharedAllowed = shared;
        }
        // popularity_scores(probs, batchStride, heads, stride, keys, keysStep, scratchScores, capacity, hist)
        args.clear().i64(probs).i64(batchStride).i32(heads).i32(stride).i32(keys).i32(keysStep).i64(scores.address()).i32(capacity)
                .i64(hist.address());
        module.launch(SCORES, tiles(maxKeys, TILE), batches, THREADS, shared, stream, args);
        // popularity_select(keys, keysStep, k, scratchScores, scratchCandidates, capacity, hist, counters, smemCandidates,
        //                   out, outCount, counts, countsBatchStride)
        args.clear().i32(keys).i32(keysStep).i32(k).i64(scores.address()).i64(candidates.address()).i32(capacity).i64(hist.address())
                .i64(arrivals.address()).i32(SMEM_CANDIDATES).i64(out).i64(outCount).i64(counts).i64(countsBatchStride);
        module.launch(SELECT, tiles(maxKeys, SELECT_TILE), batches, THREADS, SMEM_CANDIDATES * Long.BYTES, stream, args);
    }

    /** CTAs along x for {@code keys} keys, {@code tile} per CTA; at least one, so every batch's last CTA runs. */
    static int tiles(int keys, int tile) {
        return Math.max(1, (int) (((long) keys + tile - 1) / tile));
    }

    /** Checks the shape; returns the largest batch's key count. */
    static int check(int batches, int heads, int stride, int keys, int keysStep, int k) {
        if (batches <= 0 || batches > 65535) {
            throw new IllegalArgumentException("batches must be in [1, 65535], was " + batches);
        }
        if (heads <= 0 || heads > MAX_HEADS) {
            throw new IllegalArgumentException("heads must be in [1, " + MAX_HEADS + "], was " + heads);
        }
        if (k <= 0) {
            throw new IllegalArgumentException("k must be > 0, was " + k);
        }
        if (keys < 0 || keysStep < 0) {
            throw new IllegalArgumentException("keys and keysStep must be >= 0, were " + keys + " and " + keysStep);
        }
        long maxKeys = keys + (long) (batches - 1) * keysStep;
        if (maxKeys > stride) {
            throw new IllegalArgumentException("stride " + stride + " is smaller than the largest batch's keys " + maxKeys);
        }
        return (int) maxKeys;
    }

    /** Grows the scratch to {@code keys} columns and {@code batches} rows; new histograms and counters start at zero. */
    private void ensureScratch(int keys, int batches) {
        if (scores != null && keys <= capacity && batches <= batchCapacity) {
            return;
        }
        int newCapacity = Math.max(keys, capacity == 0 ? keys : Math.min(Integer.MAX_VALUE / 2, capacity * 2));
        int newBatches = Math.max(batches, batchCapacity);
        stream.synchronize(); // no launch may still use the old scratch
        freeScratch();
        try { // a failed allocation leaves none: scores is null, so the next call allocates them all again
            scores = new DeviceBuffer(context, (long) newBatches * newCapacity * Integer.BYTES);
            candidates = new DeviceBuffer(context, (long) newBatches * newCapacity * Long.BYTES);
            hist = new DeviceBuffer(context, (long) newBatches * BINS * Integer.BYTES);
            arrivals = new DeviceBuffer(context, (long) newBatches * COUNTERS * Integer.BYTES);
        } catch (RuntimeException | Error e) {
            freeScratch();
            throw e;
        }
        hist.fill(0, hist.bytes(), (byte) 0, stream);
        arrivals.fill(0, arrivals.bytes(), (byte) 0, stream);
        capacity = newCapacity;
        batchCapacity = newBatches;
    }

    private void freeScratch() {
        for (DeviceBuffer b : new DeviceBuffer[] {scores, candidates, hist, arrivals}) {
            if (b != null) {
                b.close();
            }
        }
        scores = candidates = hist = arrivals = null;
    }

    /** The stream launches are enqueued on. */
    public CudaStream stream() {
        return stream;
    }

    /** Waits for queued launches, then frees the scratch and the argument buffer; idempotent. Does not close the module or stream. */
    @Override
    public void close() {
        boolean launched = scores != null;
        DeviceBuffer s = scores;
        DeviceBuffer c = candidates;
        DeviceBuffer h = hist;
        DeviceBuffer a = arrivals;
        scores = candidates = hist = arrivals = null;
        // every resource closed, also when the wait or an earlier free fails (a sticky fault); the first failure thrown
        try (args; a; h; c; s) {
            if (launched) {
                stream.synchronize();
            }
        }
    }
}

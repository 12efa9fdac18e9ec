package io.tierkv.cuda.ops;

import io.tierkv.core.DType;
import io.tierkv.cuda.driver.CudaContext;
import io.tierkv.cuda.driver.CudaStream;
import io.tierkv.cuda.driver.KernelModule;
import io.tierkv.cuda.driver.LaunchArgs;

/**
 * The per-head host-slice choice of a sparse host read on the device ({@code src/main/cuda/head_slices.cu}): from one score
 * per (host block, query head), which KV head reads which block, written as the paged kernels' head mask, so that a decode
 * step needs no round trip to the host to choose. The rule is model's {@code HeadSlices.choose} (the kernel's comment
 * spells it out); the host mirror runs {@code HeadSlices} itself. One CTA per launch, sized to the choice ({@link
 * #threads}). With {@code keys=C}, {@link #chooseExactAsync} makes both stages and scores the candidates' keys in between, in
 * one launch ({@code head_slices_exact_<dtype>}). Not thread-safe (launch arguments are reused).
 */
public final class CudaHeadSlices implements AutoCloseable {
    /** The module ({@code head_slices.cu}). */
    public static final String MODULE = "head_slices";
    static final String KERNEL = "head_slices";
    /** The most threads of a launch (the kernel's {@code __launch_bounds__}). */
    static final int MAX_THREADS = 1024;
    /** Up to this many pairs, staged, the kernel picks by rank ({@code kRankPairs} in head_slices.cu). */
    static final int RANK_PAIRS = 1024;
    /** (block, KV head) pairs each thread scans per pick, at least, before a launch takes more threads. */
    static final int PAIRS_PER_THREAD = 8;
    /** Bytes of head_slices' packed arguments; the launch-layout tests pack into this many. */
    static final int ARGS_BYTES = 72;
    /** Bytes of head_slices_exact's packed arguments. */
    static final int EXACT_ARGS_BYTES = 128;
    /** The most dynamic shared memory a launch stages its scores, values and mask in (the static arrays take 4.3 KiB more). */
    static final int MAX_STAGED_BYTES = 40 * 1024;
    /** The most query heads the kernel's shared array holds. */
    public static final int MAX_HEADS = 1024;

    private final KernelModule module;
    private final LaunchArgs args;

    /** Loads the kernel into {@code context} (kept open by the caller, closed after this). */
    public CudaHeadSlices(CudaContext context) {
        LoadedModule loaded = LoadedModule.load(context, MODULE, EXACT_ARGS_BYTES, KERNEL, exactKernel(DType.F32),
                exactKernel(DType.F16), exactKernel(DType.BF16));
        this.module = loaded.module();
        this.args = loaded.args();
    }

    /**
     * Enqueues the choice over {@code n} blocks.
     *
     * @param scores   device fp32 {@code [n][heads]}: +inf must be read, -inf weighs nothing
     * @param cap      the most slices to choose
     * @param capFrom  device i32 holding a further cap (the first stage's count), or 0 for none
     * @param logMin   {@code log(min)}: past each KV head's first slice, a slice of a lower value is not chosen
     *                 ({@code -inf}: no gate)
     * @param value    device fp32 scratch {@code [n][kvHeads]}
     * @param headMask device u8 {@code [n][kvHeads]}, written whole: 1 where the KV head reads the block
     * @param taken    device i32: the number of slices chosen
     */
    public void chooseAsync(long scores, int n, int heads, int kvHeads, int cap, long capFrom, double logMin, long value, long headMask,
                            long taken, CudaStream stream) {
        check(n, heads, kvHeads, cap);
        Args.address("scores", scores, 4);
        Args.optionalAddress("capFrom", capFrom, 4);
        Args.address("value", value, 4);
        Args.address("headMask", headMask, 1);
        Args.address("taken", taken, 4);
        int staged = stagedBytes(n, heads, kvHeads);
        pack(args, scores, n, heads, kvHeads, cap, capFrom, logMin, value, headMask, taken, staged > 0);
        module.launch(KERNEL, 1, 1, threads(n, heads, kvHeads), staged, stream, args);
    }

    /** The two-stage kernel for a KV dtype. */
    static String exactKernel(DType t) {
        return "head_slices_exact_" + DTypeCodes.suffix(t);
    }

    /**
     * Enqueues both stages of {@code keys=C} in one launch, when they fit one CTA's shared memory ({@link #exactBytes} not 0):
     * the choice over {@code scores} with at most {@code keys} slices, the exact scores of the candidates it took
     * ({@link CudaBlockDigests#exactAsync}'s, from their keys where they lie), and the choice over those with at most
     * {@code min(slices, first count)}. The same head mask and counts as {@link #chooseAsync}, {@code exactAsync} and
     * {@code chooseAsync} (its capFrom the first count) in turn, bit for bit; their scratch ({@code value}, the exact scores)
     * is not written.
     *
     * @param kv        the slab's geometry and the query's heads; a checked one ({@link CudaBlockDigests#exactAsync} checks the
     *                  same: 16-byte rows, a head dim the kernels take)
     * @param scores    device fp32 {@code [n][kv.heads()]}: the digests' scores
     * @param q         device fp32 {@code [kv.heads()][headDim]}
     * @param slab      the slab's base (device memory or the UVA address of mapped pinned memory), 16-byte aligned
     * @param slabBytes the slab's size: a slot outside it scores {@code -inf}, never read
     * @param keyOffset bytes from a slot's start to its K half, a multiple of 16
     * @param slots     device i32 {@code [n]}
     * @param validRows device i32 {@code [n]}, or 0 for full blocks
     * @param mask      device u8 {@code [n][blockSize]} evicted rows, or 0 for none
     * @param headMask  device u8 {@code [n][kvHeads]}, written whole
     * @param taken     device i32 {@code [2]}: the first stage's count, then the second's
     * @throws IllegalArgumentException naming the value, for a bad address or size, or a choice too large for one CTA
     */
    public void chooseExactAsync(PagedKvShape kv, long scores, int n, int keys, int slices, double logMin, long q, float scale, long slab,
                                 long slabBytes, long keyOffset, long slots, long validRows, long mask, long headMask, long taken,
                                 CudaStream stream) {
        check(n, kv.heads(), kv.kvHeads(), keys);
        if (slices < 0) {
            throw new IllegalArgumentException("slices must be >= 0, was " + slices);
        }
        LaunchPlans.checkAttentionHeadDim(kv.headDim());
        if (!Float.isFinite(scale)) {
            throw new IllegalArgumentException("scale must be finite, was " + scale);
        }
        int bytes = exactBytes(n, kv.heads(), kv.kvHeads());
        if (bytes == 0) {
            throw new IllegalArgumentException(n + " blocks of " + kv.heads() + " heads do not fit one CTA's "
                    + MAX_STAGED_BYTES + " staged bytes: launch the stages apart");
        }
        int capacity = CudaBlockDigests.slabSlots(kv, slab, slabBytes, keyOffset, 16, n);
        Args.address("scores", scores, 4);
        Args.address("q", q, 4);
        Args.address("slots", slots, 4);
        Args.optionalAddress("validRows", validRows, 4);
        Args.optionalAddress("mask", mask, 1);
        Args.address("headMask", headMask, 1);
        Args.address("taken", taken, 4);
        packExact(args, scores, n, kv, keys, slices, logMin, headMask, taken, q, slab, keyOffset, slots, validRows, mask, capacity, scale);
        module.launch(exactKernel(kv.dtype()), 1, 1, exactThreads(n, kv.heads(), kv.kvHeads(), keys), bytes, stream, args);
    }

    /**
     * Dynamic shared memory of {@link #chooseExactAsync} for {@code n} blocks: both score arrays ({@code n x heads} floats
     * each), the values and the candidates' list ({@code n x kvHeads} floats and ints), the mask and the rank picks
     * ({@code n x kvHeads} bytes each), rounded up to 16; 0 when that passes {@value #MAX_STAGED_BYTES} bytes (the stages are
     * then launched apart).
     */
    public static int exactBytes(int n, int heads, int kvHeads) {
        long pairs = (long) n * kvHeads;
        long bytes = 8L * n * heads + 8 * pairs + 2 * pairs;
        bytes = (bytes + 15) & ~15L;
        return n >= 1 && bytes <= MAX_STAGED_BYTES ? (int) bytes : 0;
    }

    /**
     * The threads of a {@link #chooseExactAsync} CTA: the choice's ({@link #threads}, a thread per pair when it ranks), and
     * at least a warp per candidate whose keys are scored ({@code min(keys, pairs)}), up to {@value #MAX_THREADS}.
     */
    static int exactThreads(int n, int heads, int kvHeads, int keys) {
        long candidates = Math.min(keys, (long) n * kvHeads);
        return (int) Math.min(MAX_THREADS, Math.max(threads(n, heads, kvHeads), 32 * Math.max(1, candidates)));
    }

    /**
     * {@code head_slices_exact_<dtype>(scores, n, heads, kvHeads, keys, slices, logMin, headMask, taken, q, slab, slotBytes,
     * keyOffset, slots, validRows, mask, capacity, blockSize, headDim, scale)}; logMin a double's bits.
     */
    static LaunchArgs packExact(LaunchArgs a, long scores, int n, PagedKvShape kv, int keys, int slices, double logMin, long headMask,
                                long taken, long q, long slab, long keyOffset, long slots, long validRows, long mask, int capacity,
                                float scale) {
        return a.clear().i64(scores).i32(n).i32(kv.heads()).i32(kv.kvHeads()).i32(keys).i32(slices)
                .i64(Double.doubleToRawLongBits(logMin)).i64(headMask).i64(taken).i64(q).i64(slab).i64(kv.slotBytes()).i64(keyOffset)
                .i64(slots).i64(validRows).i64(mask).i32(capacity).i32(kv.blockSize()).i32(kv.headDim()).f32(scale);
    }

    /**
     * The CTA's threads for {@code n} blocks of {@code kvHeads}. Staged ({@link #stagedBytes}) with at most
     * {@value #RANK_PAIRS} pairs, the kernel picks by rank: a thread per pair, rounded up to a warp. Otherwise it picks one
     * CTA-wide argmax after another (barriers across all its warps), and gets a warp per {@value #PAIRS_PER_THREAD} x 32
     * pairs, from one warp to {@value #MAX_THREADS}.
     */
    static int threads(int n, int heads, int kvHeads) {
        long pairs = (long) n * kvHeads;
        if (pairs <= RANK_PAIRS && stagedBytes(n, heads, kvHeads) > 0) {
            return (int) ((pairs + 31) / 32 * 32);
        }
        long warps = (pairs + 32L * PAIRS_PER_THREAD - 1) / (32L * PAIRS_PER_THREAD);
        return (int) Math.min(MAX_THREADS, Math.max(1, warps) * 32);
    }

    /**
     * Dynamic shared memory for a choice over {@code n} blocks staged on chip: the scores ({@code n x heads} floats), the
     * values ({@code n x kvHeads} floats), the mask and the rank picks ({@code n x kvHeads} bytes each), rounded up to 16;
     * 0 when that passes
     * {@value #MAX_STAGED_BYTES} bytes (the kernel then reads and writes them in global memory).
     */
    static int stagedBytes(int n, int heads, int kvHeads) {
        long pairs = (long) n * kvHeads;
        long bytes = 4L * n * heads + 4 * pairs + 2 * pairs;
        bytes = (bytes + 15) & ~15L;
        return bytes <= MAX_STAGED_BYTES ? (int) bytes : 0;
    }

    /**
     * {@code head_slices(scores, n, heads, kvHeads, cap, capFrom, logMin, value, headMask, taken, staged)}; logMin a double's
     * bits.
     */
    static LaunchArgs pack(LaunchArgs a, long scores, int n, int heads, int kvHeads, int cap, long capFrom, double logMin, long value,
                           long headMask, long taken, boolean staged) {
        return a.clear().i64(scores).i32(n).i32(heads).i32(kvHeads).i32(cap).i64(capFrom).i64(Double.doubleToRawLongBits(logMin)).i64(value).i64(headMask)
                .i64(taken).i32(staged ? 1 : 0);
    }

    /** The host checks: at least one block, heads a multiple of kvHeads within the kernel's shared array, a non-negative cap. */
    static void check(int n, int heads, int kvHeads, int cap) {
        if (n < 1) {
            throw new IllegalArgumentException("n must be >= 1 (nothing to choose from otherwise), was " + n);
        }
        if (kvHeads < 1 || heads < kvHeads || heads % kvHeads != 0 || heads > MAX_HEADS) {
            throw new IllegalArgumentException("heads " + heads + " must be a multiple of kvHeads " + kvHeads + " and at most " + MAX_HEADS);
        }
        if ((long) n * kvHeads > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(n + " blocks of " + kvHeads + " KV heads exceed an int index");
        }
        if (cap < 0) {
            throw new IllegalArgumentException("cap must be >= 0, was " + cap);
        }
    }

    /** Unloads the module; idempotent. The caller makes sure no launch is still queued. */
    @Override
    public void close() {
        try {
            module.close();
        } finally {
            args.close();
        }
    }
}

package io.tierkv.cuda.ops;

import io.tierkv.cuda.driver.CudaContext;
import io.tierkv.cuda.driver.CudaStream;
import io.tierkv.cuda.driver.KernelModule;
import io.tierkv.cuda.driver.LaunchArgs;

/**
 * The per-head host-slice choice of a sparse host read on the device ({@code src/main/cuda/head_slices.cu}): from one score
 * per (host block, query head), which KV head reads which block, written as the paged kernels' head mask, so that a decode
 * step needs no round trip to the host to choose. The rule is model's {@code HeadSlices.choose} (the kernel's comment
 * spells it out); the host mirror runs {@code HeadSlices} itself. One CTA per launch, sized to the choice ({@link
 * #threads}). Not thread-safe (launch arguments are reused).
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
    /** The most dynamic shared memory a launch stages its scores, values and mask in (the static arrays take 4.3 KiB more). */
    static final int MAX_STAGED_BYTES = 40 * 1024;
    /** The most query heads the kernel's shared array holds. */
    public static final int MAX_HEADS = 1024;

    private final KernelModule module;
    private final LaunchArgs args;

    /** Loads the kernel into {@code context} (kept open by the caller, closed after this). */
    public CudaHeadSlices(CudaContext context) {
        LoadedModule loaded = LoadedModule.load(context, MODULE, ARGS_BYTES, KERNEL);
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

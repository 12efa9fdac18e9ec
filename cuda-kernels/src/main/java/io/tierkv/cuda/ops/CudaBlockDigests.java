package io.tierkv.cuda.ops;

import io.tierkv.core.DType;
import io.tierkv.cuda.driver.CudaContext;
import io.tierkv.cuda.driver.CudaDevice;
import io.tierkv.cuda.driver.CudaStream;
import io.tierkv.cuda.driver.DeviceBuffer;
import io.tierkv.cuda.driver.KernelModule;
import io.tierkv.cuda.driver.LaunchArgs;
import io.tierkv.cuda.driver.Owned;
import jcuda.driver.CUdevice_attribute;

/**
 * Block digests on the device ({@code src/main/cuda/digest.cu}; {@link DigestMirror} is the same in Java): an array of
 * {@code capacity} digests of {@link DigestShape} (bfloat16 minimum and maximum keys per part and KV head, rounded
 * outward; or, with {@code bits} 8 or 4, a record of box codes and a sketch of every key), owned here in one
 * {@link DeviceBuffer} (so counted by the memory ledger as device memory) and freed by {@link #close()}. The caller
 * chooses the digest index of each block (for example {@code layer * blocksPerLayer + block}).
 *
 * <p>{@link #updateAsync} computes the digests of listed slots of a KV slab (blocks that just filled);
 * {@link #scoreAsync} writes, for one query, every listed block's score of each query head: the bound
 * ({@link #boundAsync}) of a bfloat16 digest, the sketch's estimated best score of a code digest. {@link #exactAsync}
 * scores a few candidate blocks exactly from their keys (the second stage of a selection). Ranking the scores and
 * choosing the blocks to read stay on the host ({@link DigestMirror#rank}). Not thread-safe.
 */
public final class CudaBlockDigests implements AutoCloseable {
    /** The module ({@code digest.cu}). */
    public static final String MODULE = "digest";
    /** Threads per CTA of both kernels ({@code kThreads} in {@code digest.cu}). */
    static final int THREADS = 256;
    /** Bytes of the digest kernels' packed arguments; the launch-layout tests pack into this many. */
    static final int ARGS_BYTES = 128;
    static final String BOUND = "digest_bound";
    static final String SKETCH_SCORE = "digest_sketch_score";
    /** Dynamic shared memory a CTA may have without opting in; {@code digest_sketch_update} opts in beyond it. */
    static final int MAX_SHARED = 48 * 1024;
    /** The most warps of a {@code digest_exact} CTA (one per KV head, each looping over several when there are more). */
    static final int EXACT_WARPS = 8;

    private final DigestShape shape;
    private final int capacity;
    private final KernelModule module;
    private final DeviceBuffer digests;
    private final LaunchArgs args; // packed per launch: one native pointer per cuLaunchKernel

    /**
     * Loads the kernels into {@code context} (kept open by the caller, closed after this) and allocates {@code capacity} digests.
     *
     * A code digest whose update needs more than 48 KiB of shared memory ({@link #sketchSharedBytes}: from about 4,900 elements
     * of K per token, 40 heads of 128) opts in to the device's larger limit.
     *
     * @throws IllegalArgumentException for a code digest whose update needs more shared memory than the device allows a CTA
     */
    public CudaBlockDigests(CudaContext context, DigestShape shape, int capacity) {
        LaunchPlans.positive("digest capacity", capacity);
        int sketchShared = shape.codes() ? sketchSharedBytes(shape) : 0;
        int optIn = sketchShared > MAX_SHARED
                ? CudaDevice.attribute(context.ordinal(), CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN)
                : MAX_SHARED;
        if (sketchShared > optIn) {
            throw new IllegalArgumentException("a code digest of " + shape.kvHeads() + " KV heads x " + shape.headDim() + " needs "
                    + sketchShared + " bytes of shared memory to update; the device allows a CTA " + optIn);
        }
        this.shape = shape;
        this.capacity = capacity;
        Owned taken = new Owned();
        try {
            this.module = taken.add(KernelModule.load(context, MODULE));
            for (String f : kernels(shape)) {
                module.function(f); // looked up before allocating: a jar with other kernels fails first
            }
            if (sketchShared > MAX_SHARED) { // once, here: a launch inside a stream capture may not change it
                for (DType t : new DType[] {DType.F32, DType.F16, DType.BF16}) {
                    module.allowSharedMemory(sketchUpdateKernel(t), sketchShared);
                }
            }
            this.digests = taken.add(new DeviceBuffer(context, capacity * shape.bytesPerBlock()));
            this.args = taken.add(new LaunchArgs(context, ARGS_BYTES));
        } catch (RuntimeException | Error e) {
            taken.closeAfter(e);
            throw e;
        }
    }

    /** A slab's KV heads, head dim and block size must be the digests'. */
    private void checkGeometry(PagedKvShape kv) {
        if (kv.kvHeads() != shape.kvHeads() || kv.headDim() != shape.headDim() || kv.blockSize() != shape.blockSize()) {
            throw new IllegalArgumentException("slab geometry " + kv + " does not match the digests' " + shape);
        }
    }

    /**
     * The slab checks of the kernels that read keys (and {@link CudaHeadSlices#chooseExactAsync}): the slab and its K half aligned to {@code align} bytes, the K half inside a slot,
     * {@code nBlocks >= 0}; with blocks to do, {@code slabBytes} whole slots (1 to 2^31 - 1), whose number it returns (0 for
     * no blocks).
     */
    static int slabSlots(PagedKvShape kv, long slab, long slabBytes, long keyOffset, int align, int nBlocks) {
        Args.address("slab", slab, align);
        if (keyOffset < 0 || keyOffset % align != 0 || keyOffset + kv.halfBytes() > kv.slotBytes()) {
            throw new IllegalArgumentException("keyOffset must be a multiple of " + align + " with the K half (" + kv.halfBytes()
                    + " bytes) inside a slot of " + kv.slotBytes() + ", was " + keyOffset);
        }
        if (nBlocks < 0) {
            throw new IllegalArgumentException("nBlocks must be >= 0, was " + nBlocks);
        }
        if (nBlocks == 0) {
            return 0;
        }
        long slabSlots = slabBytes / kv.slotBytes();
        if (slabSlots < 1 || slabSlots > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("slabBytes " + slabBytes + " must hold 1 to 2^31 - 1 slots of " + kv.slotBytes() + " bytes");
        }
        return (int) slabSlots;
    }

    /** The update kernel for a KV dtype (bfloat16 digests). */
    static String updateKernel(DType t) {
        return "digest_update_" + DTypeCodes.suffix(t);
    }

    /** The update kernel of a digest of codes with a sketch, for a KV dtype. */
    static String sketchUpdateKernel(DType t) {
        return "digest_sketch_update_" + DTypeCodes.suffix(t);
    }

    /** The exact-score kernel for a KV dtype. */
    static String exactKernel(DType t) {
        return "digest_exact_" + DTypeCodes.suffix(t);
    }

    /** Every kernel a digest of {@code s} launches: its update (per dtype), its score, and the exact score (per dtype). */
    static java.util.List<String> kernels(DigestShape s) {
        java.util.List<String> names = new java.util.ArrayList<>();
        for (DType t : new DType[] {DType.F32, DType.F16, DType.BF16}) {
            names.add(s.codes() ? sketchUpdateKernel(t) : updateKernel(t));
        }
        names.add(s.codes() ? SKETCH_SCORE : BOUND);
        for (DType t : new DType[] {DType.F32, DType.F16, DType.BF16}) {
            names.add(exactKernel(t));
        }
        return names;
    }

    /**
     * Dynamic shared memory of one {@code digest_sketch_update} CTA: per column the minimum and maximum (then the sketch's
     * floor and step) as floats and the two box codes as bytes, per KV head the offset and step: {@code 4 (2 K d + 2 K) + 2 K d}.
     */
    static int sketchSharedBytes(DigestShape s) {
        long row = s.row();
        return (int) Math.min(Integer.MAX_VALUE, 4 * (2 * row + 2L * s.kvHeads()) + 2 * row);
    }

    /** Threads of a {@code digest_exact} CTA: one warp per KV head, at most {@value #EXACT_WARPS} warps. */
    static int exactThreads(int kvHeads) {
        LaunchPlans.positive("kvHeads", kvHeads);
        return 32 * Math.min(kvHeads, EXACT_WARPS);
    }

    /** The digests' geometry. */
    public DigestShape shape() {
        return shape;
    }

    /** Digests the array holds. */
    public int capacity() {
        return capacity;
    }

    /** Device bytes held (all {@link #capacity()} digests, counted in the device budget). */
    public long bytes() {
        return digests.bytes();
    }

    /**
     * The digest array (for copies in and out): {@code (capacity, 2, parts, kvHeads, headDim)} bfloat16 bits, or
     * {@code capacity} records of {@link DigestShape#bytesPerBlock()} bytes for codes ({@link DigestShape} gives the layout).
     */
    public DeviceBuffer buffer() {
        return digests;
    }

    /**
     * Enqueues the digests of list entries {@code 0 .. nBlocks - 1}: entry {@code b}'s keys are the K half of slot
     * {@code slots[b]} of the slab ({@code keyOffset} bytes into the slot: 0 in tiering's layout), its digest goes to
     * index {@code digestIndexes[b]}. Entries with a slot outside {@code [0, slabBytes / slotBytes)} or an index outside
     * {@code [0, capacity)} are skipped on the device, nothing read or written. A bfloat16 digest runs
     * {@code digest_update_<dtype>}, a code digest {@code digest_sketch_update_<dtype>} (every byte of its record written).
     *
     * @param kv            the slab's geometry; its KV heads, head dim and block size must be the digests'
     * @param slab          the slab's base (device memory or the UVA address of mapped pinned memory)
     * @param slots         device i32 {@code [nBlocks]}
     * @param digestIndexes device i32 {@code [nBlocks]}
     * @throws IllegalArgumentException naming the value, for a bad address, offset, size or a geometry mismatch
     */
    public void updateAsync(PagedKvShape kv, long slab, long slabBytes, long keyOffset, long slots, long digestIndexes, int nBlocks,
                            CudaStream stream) {
        checkGeometry(kv);
        int slabSlots = slabSlots(kv, slab, slabBytes, keyOffset, kv.dtype().bytes(), nBlocks);
        if (nBlocks == 0) {
            return;
        }
        Args.address("slots", slots, 4);
        Args.address("digestIndexes", digestIndexes, 4);
        if (shape.codes()) {
            packSketchUpdate(args, slab, kv.slotBytes(), keyOffset, slots, digestIndexes, digests.address(), slabSlots, capacity,
                    nBlocks, shape);
            module.launch(sketchUpdateKernel(kv.dtype()), nBlocks, 1, THREADS, sketchSharedBytes(shape), stream, args);
            return;
        }
        packUpdate(args, slab, kv.slotBytes(), keyOffset, slots, digestIndexes, digests.address(), slabSlots, capacity, nBlocks, shape);
        module.launch(updateKernel(kv.dtype()), nBlocks, shape.parts(), THREADS, 0, stream, args);
    }

    /**
     * {@code digest_update_<dtype>(slab, slotBytes, keyOffset, slots, digestIndexes, digests, capacity, digestCapacity,
     * nBlocks, blockSize, kvHeads, headDim, parts)}; grid {@code (nBlocks, parts)}.
     */
    static LaunchArgs packUpdate(LaunchArgs a, long slab, long slotBytes, long keyOffset, long slots, long digestIndexes, long digests,
                                 int slabSlots, int digestCapacity, int nBlocks, DigestShape s) {
        return a.clear().i64(slab).i64(slotBytes).i64(keyOffset).i64(slots).i64(digestIndexes).i64(digests).i32(slabSlots)
                .i32(digestCapacity).i32(nBlocks).i32(s.blockSize()).i32(s.kvHeads()).i32(s.headDim()).i32(s.parts());
    }

    /**
     * {@code digest_sketch_update_<dtype>(slab, slotBytes, keyOffset, slots, digestIndexes, digests, blockBytes, capacity,
     * digestCapacity, nBlocks, blockSize, kvHeads, headDim, bits, sketch)}; grid {@code (nBlocks)}, {@link #THREADS} threads,
     * {@link #sketchSharedBytes} of dynamic shared memory; {@code blockBytes = s.bytesPerBlock()}.
     */
    static LaunchArgs packSketchUpdate(LaunchArgs a, long slab, long slotBytes, long keyOffset, long slots, long digestIndexes,
                                       long digests, int slabSlots, int digestCapacity, int nBlocks, DigestShape s) {
        return a.clear().i64(slab).i64(slotBytes).i64(keyOffset).i64(slots).i64(digestIndexes).i64(digests).i64(s.bytesPerBlock())
                .i32(slabSlots).i32(digestCapacity).i32(nBlocks).i32(s.blockSize()).i32(s.kvHeads()).i32(s.headDim()).i32(s.bits())
                .i32(s.sketch());
    }

    /**
     * Enqueues each listed block's score of each query head for query {@code q}: for a bfloat16 digest its bound
     * ({@link #boundAsync}, {@code q} 16-byte aligned); for a code digest the sketch's estimated best score
     * ({@code digest_sketch_score}, {@link DigestMirror#score}: model's {@code BlockDigests.score}, bit for bit):
     * {@code out[b * heads + h] = (sum_d q_d f_d + max over rows t of sum_d q_d u_d code(t, d)) * scale} over KV head
     * {@code h / (heads / kvHeads)} of the digest at {@code digestIndexes[b]}; {@code +inf} for an index outside
     * {@code [0, capacity)}.
     *
     * @param q             device fp32 {@code [heads][headDim]} (16-byte aligned for a bfloat16 digest, else 4)
     * @param digestIndexes device i32 {@code [nBlocks]}
     * @param out           device fp32 {@code [nBlocks][heads]}
     */
    public void scoreAsync(long q, int heads, float scale, long digestIndexes, int nBlocks, long out, CudaStream stream) {
        if (!shape.codes()) {
            boundAsync(q, heads, scale, digestIndexes, nBlocks, out, stream);
            return;
        }
        if (!checkScoreArgs(heads, scale, nBlocks)) {
            return;
        }
        Args.address("q", q, 4);
        Args.address("digestIndexes", digestIndexes, 4);
        Args.address("out", out, 4);
        int grid = scoreGrid(nBlocks, heads);
        packScore(args, q, digests.address(), digestIndexes, out, capacity, nBlocks, heads, shape, scale);
        module.launch(SKETCH_SCORE, grid, 1, THREADS, 0, stream, args);
    }

    /** Checks the arguments shared by the bound and the score; false when there is nothing to launch. */
    private boolean checkScoreArgs(int heads, float scale, int nBlocks) {
        LaunchPlans.positive("heads", heads);
        if (heads % shape.kvHeads() != 0) {
            throw new IllegalArgumentException("heads " + heads + " must be a multiple of kvHeads " + shape.kvHeads());
        }
        if (!Float.isFinite(scale)) {
            throw new IllegalArgumentException("scale must be finite, was " + scale);
        }
        if (nBlocks < 0) {
            throw new IllegalArgumentException("nBlocks must be >= 0, was " + nBlocks);
        }
        return nBlocks > 0;
    }

    /**
     * {@code digest_sketch_score(q, digests, digestIndexes, out, blockBytes, digestCapacity, nBlocks, heads, kvHeads, headDim,
     * blockSize, bits, sketch, scale)}; grid {@link #scoreGrid} of {@link #THREADS} threads.
     */
    static LaunchArgs packScore(LaunchArgs a, long q, long digests, long digestIndexes, long out, int digestCapacity, int nBlocks,
                                int heads, DigestShape s, float scale) {
        return a.clear().i64(q).i64(digests).i64(digestIndexes).i64(out).i64(s.bytesPerBlock()).i32(digestCapacity).i32(nBlocks)
                .i32(heads).i32(s.kvHeads()).i32(s.headDim()).i32(s.blockSize()).i32(s.bits()).i32(s.sketch()).f32(scale);
    }

    /**
     * Enqueues the exact best score of each query head over the live rows of list entries {@code 0 .. nBlocks - 1}
     * ({@code digest_exact_<dtype>}, {@link DigestMirror#exact} to float rounding): {@code out[b * heads + h] = max over
     * live rows r of scale * q[h] . K[r][h / group]} with the keys of slot {@code slots[b]} ({@code keyOffset} bytes into
     * the slot); row {@code r} is live when {@code r < validRows[b]} and {@code mask[b * blockSize + r] == 0}; {@code -inf}
     * when {@code headMask[b * kvHeads + kh] == 0} (those keys are not read), when no row is live, or when the slot is
     * outside {@code [0, slabBytes / slotBytes)}. Works with either kind of digest (it reads keys, not digests).
     *
     * @param kv        the slab's geometry and the query's heads ({@code kv.heads()}); its KV heads, head dim and block
     *                  size must be the digests'
     * @param q         device fp32 {@code [kv.heads()][headDim]}
     * @param scale     the score scale, usually {@code 1 / sqrt(headDim)}
     * @param slab      the slab's base (device memory or the UVA address of mapped pinned memory), 16-byte aligned
     * @param slabBytes the slab's size: slots outside {@code [0, slabBytes / slotBytes)} give {@code -inf}, never read
     * @param keyOffset bytes from a slot's start to its K half (0 in tiering's layout), a multiple of 16
     * @param slots     device i32 {@code [nBlocks]}
     * @param validRows device i32 {@code [nBlocks]} rows before the causal edge per entry, or 0 for all {@code blockSize}
     * @param mask      device u8 {@code [nBlocks][blockSize]}: non-zero rows are evicted, or 0 for none
     * @param headMask  device u8 {@code [nBlocks][kvHeads]}: non-zero for the KV heads to score (required)
     * @param out       device fp32 {@code [nBlocks][kv.heads()]}
     * @throws IllegalArgumentException naming the value, for a bad address, offset, size or a geometry mismatch
     */
    public void exactAsync(PagedKvShape kv, long q, float scale, long slab, long slabBytes, long keyOffset, long slots, long validRows,
                           long mask, long headMask, int nBlocks, long out, CudaStream stream) {
        checkGeometry(kv);
        LaunchPlans.checkAttentionHeadDim(kv.headDim());
        if (!Float.isFinite(scale)) {
            throw new IllegalArgumentException("scale must be finite, was " + scale);
        }
        int slabSlots = slabSlots(kv, slab, slabBytes, keyOffset, 16, nBlocks);
        if (nBlocks == 0) {
            return;
        }
        Args.address("q", q, 4);
        Args.address("slots", slots, 4);
        Args.optionalAddress("validRows", validRows, 4);
        Args.optionalAddress("mask", mask, 1);
        Args.address("headMask", headMask, 1);
        Args.address("out", out, 4);
        packExact(args, q, slab, kv.slotBytes(), keyOffset, slots, validRows, mask, headMask, out, slabSlots, nBlocks, kv, scale);
        module.launch(exactKernel(kv.dtype()), nBlocks, 1, exactThreads(kv.kvHeads()), 0, stream, args);
    }

    /**
     * {@code digest_exact_<dtype>(q, slab, slotBytes, keyOffset, slots, validRows, mask, headMask, out, capacity, nBlocks,
     * blockSize, heads, kvHeads, headDim, scale)}; grid {@code (nBlocks)} of {@link #exactThreads} threads.
     */
    static LaunchArgs packExact(LaunchArgs a, long q, long slab, long slotBytes, long keyOffset, long slots, long validRows, long mask,
                                long headMask, long out, int slabSlots, int nBlocks, PagedKvShape kv, float scale) {
        return a.clear().i64(q).i64(slab).i64(slotBytes).i64(keyOffset).i64(slots).i64(validRows).i64(mask).i64(headMask).i64(out)
                .i32(slabSlots).i32(nBlocks).i32(kv.blockSize()).i32(kv.heads()).i32(kv.kvHeads()).i32(kv.headDim()).f32(scale);
    }

    /**
     * Enqueues the bounds of query {@code q} over list entries {@code 0 .. nBlocks - 1}: {@code out[b * heads + h] =
     * scale * max over parts of sum_d max(q[h][d] min[d], q[h][d] max[d])} with the digest at {@code digestIndexes[b]},
     * KV head {@code h / (heads / kvHeads)}; {@code +inf} for an index outside {@code [0, capacity)}.
     *
     * @param q             device fp32 {@code [heads][headDim]}, 16-byte aligned
     * @param digestIndexes device i32 {@code [nBlocks]}
     * @param out           device fp32 {@code [nBlocks][heads]}
     * @throws IllegalStateException for a digest of codes (it has no bound on the device: use {@link #scoreAsync})
     */
    public void boundAsync(long q, int heads, float scale, long digestIndexes, int nBlocks, long out, CudaStream stream) {
        if (shape.codes()) {
            throw new IllegalStateException("digest_bound reads bfloat16 digests; these are " + shape.bits() + "-bit codes with a "
                    + shape.sketch() + "-bit sketch: use scoreAsync");
        }
        if (!checkScoreArgs(heads, scale, nBlocks)) {
            return;
        }
        Args.address("q", q, 16);
        Args.address("digestIndexes", digestIndexes, 4);
        Args.address("out", out, 4);
        int grid = boundGrid(nBlocks, heads);
        packBound(args, q, digests.address(), digestIndexes, out, capacity, nBlocks, heads, shape, scale);
        module.launch(BOUND, grid, 1, THREADS, 0, stream, args);
    }

    /** CTAs of {@code digest_bound}: one thread per (block, head). */
    static int boundGrid(int nBlocks, int heads) {
        return grid((long) nBlocks * heads, nBlocks, heads);
    }

    /**
     * CTAs of {@code digest_sketch_score}: one warp per (block, head), its lanes over the head's dims and the block's rows (a
     * thread per pair left a decode step's few hundred threads each running every row's dims in turn).
     */
    static int scoreGrid(int nBlocks, int heads) {
        return grid(32L * nBlocks * heads, nBlocks, heads);
    }

    private static int grid(long threads, int nBlocks, int heads) {
        long grid = (threads + THREADS - 1) / THREADS;
        if (grid > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(nBlocks + " blocks x " + heads + " heads is too many bounds for one launch");
        }
        return (int) grid;
    }

    /** {@code digest_bound(q, digests, digestIndexes, out, digestCapacity, nBlocks, heads, kvHeads, headDim, parts, scale)}. */
    static LaunchArgs packBound(LaunchArgs a, long q, long digests, long digestIndexes, long out, int digestCapacity, int nBlocks, int heads,
                                DigestShape s, float scale) {
        return a.clear().i64(q).i64(digests).i64(digestIndexes).i64(out).i32(digestCapacity).i32(nBlocks).i32(heads).i32(s.kvHeads())
                .i32(s.headDim()).i32(s.parts()).f32(scale);
    }

    /** Waits for queued work, then frees the digests, the argument buffer and the module; idempotent. */
    @Override
    public void close() {
        try (module; args) {
            try {
                if (!digests.context().isClosed()) {
                    digests.context().synchronize(); // a failed wait (a sticky fault) still frees everything
                }
            } finally {
                digests.close();
            }
        }
    }
}

package io.tierkv.cuda.ops;

import io.tierkv.core.DType;
import io.tierkv.cuda.driver.CudaContext;
import io.tierkv.cuda.driver.CudaStream;
import io.tierkv.cuda.driver.DeviceBuffer;
import io.tierkv.cuda.driver.KernelModule;
import io.tierkv.cuda.driver.LaunchArgs;

/**
 * Block digests on the device ({@code src/main/cuda/digest.cu}; {@link DigestMirror} is the same in Java): an array of
 * {@code capacity} digests of {@link DigestShape} (bfloat16 minimum and maximum keys per part and KV head, rounded
 * outward), owned here in one {@link DeviceBuffer} (so counted by the memory ledger as device memory) and freed by
 * {@link #close()}. The caller chooses the digest index of each block (for example {@code layer * blocksPerLayer +
 * block}).
 *
 * <p>{@link #updateAsync} computes the digests of listed slots of a KV slab (blocks that just filled);
 * {@link #boundAsync} writes, for one query, every listed block's bound of each query head's score. Ranking the
 * bounds and choosing the blocks to read stay on the host ({@link DigestMirror#rank}). Not thread-safe.
 */
public final class CudaBlockDigests implements AutoCloseable {
    /** The module ({@code digest.cu}). */
    public static final String MODULE = "digest";
    /** Threads per CTA of both kernels ({@code kThreads} in {@code digest.cu}). */
    static final int THREADS = 256;
    static final String BOUND = "digest_bound";

    private final DigestShape shape;
    private final int capacity;
    private final KernelModule module;
    private final DeviceBuffer digests;
    private final LaunchArgs args; // packed per launch: one native pointer per cuLaunchKernel

    /** Loads the kernels into {@code context} (kept open by the caller, closed after this) and allocates {@code capacity} digests. */
    public CudaBlockDigests(CudaContext context, DigestShape shape, int capacity) {
        LaunchPlans.positive("digest capacity", capacity);
        this.shape = shape;
        this.capacity = capacity;
        this.module = KernelModule.load(context, MODULE);
        DeviceBuffer buffer = null;
        try {
            for (DType t : new DType[] {DType.F32, DType.F16, DType.BF16}) {
                module.function(updateKernel(t));
            }
            module.function(BOUND); // looked up before allocating: a jar with other kernels fails first
            buffer = new DeviceBuffer(context, capacity * shape.bytesPerBlock());
            this.args = new LaunchArgs(context, 128);
        } catch (RuntimeException e) {
            if (buffer != null) {
                buffer.close();
            }
            module.close();
            throw e;
        }
        this.digests = buffer;
    }

    /** The update kernel for a KV dtype. */
    static String updateKernel(DType t) {
        return "digest_update_" + DTypeCodes.suffix(t);
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

    /** The digest array, {@code (capacity, 2, parts, kvHeads, headDim)} bfloat16 bits (for copies in and out). */
    public DeviceBuffer buffer() {
        return digests;
    }

    /**
     * Enqueues the digests of list entries {@code 0 .. nBlocks - 1}: entry {@code b}'s keys are the K half of slot
     * {@code slots[b]} of the slab ({@code keyOffset} bytes into the slot: 0 in tiering's layout), its digest goes to
     * index {@code digestIndexes[b]}. Entries with a slot outside {@code [0, slabBytes / slotBytes)} or an index outside
     * {@code [0, capacity)} are skipped on the device, nothing read or written.
     *
     * @param kv            the slab's geometry; its KV heads, head dim and block size must be the digests'
     * @param slab          the slab's base (device memory or the UVA address of mapped pinned memory)
     * @param slots         device i32 {@code [nBlocks]}
     * @param digestIndexes device i32 {@code [nBlocks]}
     * @throws IllegalArgumentException naming the value, for a bad address, offset, size or a geometry mismatch
     */
    public void updateAsync(PagedKvShape kv, long slab, long slabBytes, long keyOffset, long slots, long digestIndexes, int nBlocks,
                            CudaStream stream) {
        if (kv.kvHeads() != shape.kvHeads() || kv.headDim() != shape.headDim() || kv.blockSize() != shape.blockSize()) {
            throw new IllegalArgumentException("slab geometry " + kv + " does not match the digests' " + shape);
        }
        int elem = kv.dtype().bytes();
        Args.address("slab", slab, elem);
        if (keyOffset < 0 || keyOffset % elem != 0 || keyOffset + kv.halfBytes() > kv.slotBytes()) {
            throw new IllegalArgumentException("keyOffset must be a multiple of " + elem + " with the K half (" + kv.halfBytes()
                    + " bytes) inside a slot of " + kv.slotBytes() + ", was " + keyOffset);
        }
        if (nBlocks < 0) {
            throw new IllegalArgumentException("nBlocks must be >= 0, was " + nBlocks);
        }
        if (nBlocks == 0) {
            return;
        }
        long slabSlots = slabBytes / kv.slotBytes();
        if (slabSlots < 1 || slabSlots > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("slabBytes " + slabBytes + " must hold 1 to 2^31 - 1 slots of " + kv.slotBytes() + " bytes");
        }
        Args.address("slots", slots, 4);
        Args.address("digestIndexes", digestIndexes, 4);
        packUpdate(args, slab, kv.slotBytes(), keyOffset, slots, digestIndexes, digests.address(), (int) slabSlots, capacity, nBlocks, shape);
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
     * Enqueues the bounds of query {@code q} over list entries {@code 0 .. nBlocks - 1}: {@code out[b * heads + h] =
     * scale * max over parts of sum_d max(q[h][d] min[d], q[h][d] max[d])} with the digest at {@code digestIndexes[b]},
     * KV head {@code h / (heads / kvHeads)}; {@code +inf} for an index outside {@code [0, capacity)}.
     *
     * @param q             device fp32 {@code [heads][headDim]}, 16-byte aligned
     * @param digestIndexes device i32 {@code [nBlocks]}
     * @param out           device fp32 {@code [nBlocks][heads]}
     */
    public void boundAsync(long q, int heads, float scale, long digestIndexes, int nBlocks, long out, CudaStream stream) {
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
        if (nBlocks == 0) {
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
        long threads = (long) nBlocks * heads;
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
        if (!digests.context().isClosed()) {
            digests.context().synchronize();
        }
        try (module; args) {
            digests.close();
        }
    }
}

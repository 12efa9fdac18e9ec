package io.tierkv.cuda.ops;

import io.tierkv.cuda.driver.CudaContext;
import io.tierkv.cuda.driver.CudaDevice;
import io.tierkv.cuda.driver.CudaStream;
import io.tierkv.cuda.driver.DeviceBuffer;
import io.tierkv.cuda.driver.KernelModule;
import io.tierkv.cuda.driver.LaunchArgs;
import io.tierkv.cuda.driver.Owned;
import io.tierkv.cuda.driver.ReuseFence;
import jcuda.driver.CUdevice_attribute;

/**
 * Paged decode attention for one query token ({@code src/main/cuda/paged_attention.cu}): all heads, grouped-query
 * attention, K and V read in place from a slab ({@link PagedKvShape}) through a block table of slot ids, with the
 * causal edge (valid rows per block), an evict mask per row and, optionally, one per (list entry, KV head); the
 * result per head is the <b>normalised</b> partial output and its log-sum-exp (natural log of
 * {@code sum exp(scale * q.k)} over the live rows; {@code -inf} and a zero output when none). Two parts, for example
 * device-tier blocks and host-tier blocks read over mapped pinned memory (pass the pinned buffer's UVA address as the
 * slab), merge exactly with {@link #mergeAsync}.
 *
 * <p>Work is split flash-decoding style in one launch ({@link LaunchPlans#pagedAttention}): CTA {@code (x, s)} reads K and V
 * of one KV head over one range of list entries with 16-byte loads, once for all the query heads of its group (up to 8;
 * larger groups in chunks of 8), and the last CTA of each KV head to finish merges the splits' partials exactly by
 * log-sum-exp. The split scratch and the arrival counters are owned here, grown on demand, and guarded by a
 * {@link ReuseFence}, so that calls on different streams do not overwrite each other's partials. Not thread-safe.
 */
public final class CudaPagedAttention implements AutoCloseable {
    /** The module ({@code paged_attention.cu}). */
    public static final String MODULE = "paged_attention";
    static final int DEFAULT_SHARED = 48 * 1024;
    /** Bytes of the attention kernels' packed arguments (the largest, two parts: 224 bytes); the launch-layout tests pack into this many. */
    static final int ARGS_BYTES = 256;

    private final CudaContext context;
    private final KernelModule module;
    private final int sms;
    private final int sharedOptIn;
    private final java.util.Map<String, Integer> sharedAllowed = new java.util.HashMap<>();
    private final ReuseFence<CudaStream> scratchFree;
    private DeviceBuffer scratch;  // partAcc [heads][splits][headDim], partMax [heads][splits], partSum [heads][splits]
    private DeviceBuffer arrivals; // u32 per (KV head, head chunk): zero between launches, zeroed once when allocated
    private int scratchGeneration; // counts reallocations of the scratch and the counters

    private final LaunchArgs args; // packed per launch: one native pointer per cuLaunchKernel

    /** Loads the kernels into {@code context} (kept open by the caller, closed after this). */
    public CudaPagedAttention(CudaContext context) {
        this.context = context;
        this.sms = context.device().multiprocessors();
        this.sharedOptIn = CudaDevice.attribute(context.ordinal(), CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN);
        Owned taken = new Owned();
        try {
            this.module = taken.add(KernelModule.load(context, MODULE));
            for (String dtype : new String[] {"f32", "f16", "bf16"}) {
                for (int g : new int[] {1, 2, 4, 8}) {
                    module.function(kernelName(dtype, g));
                }
            }
            module.function("attention_empty");
            module.function("lse_merge");
            this.scratchFree = taken.add(ReuseFence.create(context)); // after the lookups: a jar with other kernels fails before allocating
            this.args = taken.add(new LaunchArgs(context, ARGS_BYTES));
        } catch (RuntimeException | Error e) {
            taken.closeAfter(e);
            throw e;
        }
    }

    /**
     * {@link #attendAsync(PagedKvShape, long, long, long, long, long, long, long, int, float, long, long, CudaStream) attendAsync}
     * without a head mask: every list entry counts for every KV head.
     */
    public void attendAsync(PagedKvShape s, long q, long slab, long slabBytes, long slots, long validRows, long mask, int nBlocks,
                            float scale, long out, long lse, CudaStream stream) {
        attendAsync(s, q, slab, slabBytes, slots, validRows, mask, 0, nBlocks, scale, out, lse, stream);
    }

    /**
     * Enqueues attention of {@code q} ({@code [heads][headDim]} fp32) over list entries {@code 0 .. nBlocks - 1}.
     *
     * @param slab      base of the slab (device memory, or the UVA address of mapped pinned memory), 16-byte aligned
     * @param slabBytes the slab's size: slot ids outside {@code [0, slabBytes / slotBytes)} are skipped, never read
     * @param slots     device i32 {@code [nBlocks]}: the slot of each list entry
     * @param validRows device i32 {@code [nBlocks]}: rows before the causal edge per entry, or 0 for all {@code blockSize}
     * @param mask      device u8 {@code [nBlocks][blockSize]}: non-zero rows are evicted, or 0 for none
     * @param headMask  device u8 {@code [nBlocks][kvHeads]}, or 0 for none: where {@code headMask[b * kvHeads + g] == 0}, entry
     *                  {@code b} takes no part for KV head {@code g} and its query heads {@code g * group .. (g + 1) * group - 1}
     *                  (its rows are not read and count as evicted); the other KV heads still see it. A head left with no
     *                  live row gets {@code out = 0}, {@code lse = -inf}
     * @param scale     the softmax scale, usually {@code 1 / sqrt(headDim)}
     * @param out       device fp32 {@code [heads][headDim]}: the normalised partial output
     * @param lse       device fp32 {@code [heads]}: its log-sum-exp
     * @throws IllegalArgumentException naming the value, for a bad address or alignment, or a head dim the kernel cannot
     *                                  read as 16-byte vectors (it must be a multiple of 8, at most 256)
     */
    public void attendAsync(PagedKvShape s, long q, long slab, long slabBytes, long slots, long validRows, long mask, long headMask,
                            int nBlocks, float scale, long out, long lse, CudaStream stream) {
        attend(s, q, 1, -1, new PagedPart(slab, slabBytes, slots, validRows, 0, mask, headMask, nBlocks), PagedPart.NONE, 0, scale, out,
                lse, stream);
    }

    /**
     * Enqueues attention of {@code q} over two parts as one list (a tiered sequence's device blocks, then its host blocks read
     * in place over mapped pinned memory), in one launch: the result equals {@link #attendAsync(PagedKvShape, long, long,
     * long, long, long, long, long, int, float, long, long, CudaStream) attendAsync} of each part merged by
     * {@link #mergeAsync}, without the second launch and the merge, and with the host part's reads spread over the same
     * CTAs as the device part's.
     */
    public void attendPartsAsync(PagedKvShape s, long q, PagedPart first, PagedPart second, float scale, long out, long lse,
                                 CudaStream stream) {
        attend(s, q, 1, -1, first, second, 0, scale, out, lse, stream);
    }

    /**
     * {@link #attendPartsAsync} of {@code rows} query rows in one launch (a prefill chunk): row z's query {@code q + z * heads *
     * headDim}, output and lse likewise after {@code out} and {@code lse}, over the same entries, each row attending the
     * positions up to its own, {@code firstPosition + z}: row r of entry b takes part only if {@code block(b) * blockSize + r
     * <= firstPosition + z}, {@code block(b)} read from its part's {@link PagedPart#blockIndex}, or b itself when that is 0.
     *
     * @param rows          query rows, at least 1 (at most 65535)
     * @param firstPosition the position of row 0, at least 0
     */
    public void attendPartsRowsAsync(PagedKvShape s, long q, int rows, int firstPosition, PagedPart first, PagedPart second, float scale,
                                     long out, long lse, CudaStream stream) {
        Args.positive("rows", rows);
        if (firstPosition < 0) {
            throw new IllegalArgumentException("firstPosition must be >= 0, was " + firstPosition);
        }
        attend(s, q, rows, firstPosition, first, second, 0, scale, out, lse, stream);
    }

    /**
     * {@link #attendAsync(PagedKvShape, long, long, long, long, long, long, long, int, float, long, long, CudaStream) attendAsync}
     * over the first {@code min(maxBlocks, *liveBlocks)} list entries, that count read on the device when the kernel runs and
     * the launch planned for {@code maxBlocks}: a launch captured in a CUDA graph then serves a sequence growing up to
     * {@code maxBlocks} entries (the splits past the live entries find none). The arrays must hold {@code maxBlocks} entries.
     *
     * @param liveBlocks device address of one i32
     * @param maxBlocks  the most entries the count may reach, at least 1
     */
    public void attendLiveAsync(PagedKvShape s, long q, long slab, long slabBytes, long slots, long validRows, long mask, long headMask,
                                long liveBlocks, int maxBlocks, float scale, long out, long lse, CudaStream stream) {
        Args.address("liveBlocks", liveBlocks, 4);
        Args.positive("maxBlocks", maxBlocks);
        attend(s, q, 1, -1, new PagedPart(slab, slabBytes, slots, validRows, 0, mask, headMask, maxBlocks), PagedPart.NONE, liveBlocks,
                scale, out, lse, stream);
    }

    private void attend(PagedKvShape s, long q, int rows, int firstPosition, PagedPart first, PagedPart second, long liveBlocks,
                        float scale, long out, long lse, CudaStream stream) {
        Args.address("q", q, 4);
        Args.address("out", out, 4);
        Args.address("lse", lse, 4);
        if (!Float.isFinite(scale)) {
            throw new IllegalArgumentException("scale must be finite, was " + scale);
        }
        LaunchPlans.checkAttentionHeadDim(s.headDim());
        int capacity = first.capacity(s);
        int secondCapacity = second.capacity(s);
        if (first.nBlocks() > 0) {
            Args.address("slab", first.slab(), 16);
        }
        int nBlocks = Math.addExact(first.nBlocks(), second.nBlocks());
        if (nBlocks == 0) {
            args.clear().i32(s.headDim()).i64(out).i64(lse); // attention_empty(headDim, out, lse), a CTA per (row, head)
            module.launch("attention_empty", s.heads() * rows, 1, LaunchPlans.ATTENTION_THREADS, 0, stream, args);
            return;
        }
        LaunchPlans.AttentionPlan plan = LaunchPlans.pagedAttention(nBlocks, s.blockSize(), s.kvHeads(), s.group(), s.headDim(), sms, rows);
        if (plan.sharedBytes() > sharedOptIn) {
            throw new IllegalArgumentException("paged attention needs " + plan.sharedBytes() + " bytes of shared memory for headDim "
                    + s.headDim() + "; the device allows " + sharedOptIn);
        }
        long accFloats = (long) rows * s.heads() * plan.splits() * s.headDim();
        long floats = accFloats + 2L * rows * s.heads() * plan.splits();
        int columns = s.kvHeads() * plan.headChunks();
        ensureScratch(floats * Float.BYTES, (long) rows * columns * Integer.BYTES, stream);
        scratchFree.beforeDeviceUse(stream);
        long acc = scratch.address();
        long max = acc + accFloats * Float.BYTES;
        long sum = max + (long) rows * s.heads() * plan.splits() * Float.BYTES;
        String f = kernelName(DTypeCodes.suffix(s.dtype()), plan.headsPerCta());
        allowShared(f, plan.sharedBytes(), stream);
        packAttend(args, s, q, first.slab(), first.slots(), first.validRows(), first.mask(), first.headMask(), capacity, first.nBlocks(),
                scale, plan.blocksPerSplit(), acc, max, sum, arrivals.address(), out, lse, liveBlocks, first.blockIndex(), firstPosition,
                second, secondCapacity);
        module.launch(f, columns, plan.splits(), rows, LaunchPlans.ATTENTION_THREADS, plan.sharedBytes(), stream, args);
        scratchFree.afterUse(stream);
    }

    /**
     * {@code paged_attention_<dtype>_g<G>(q, slab, slotBytes, halfBytes, slots, validRows, mask, headMask, capacity, nBlocks,
     * blockSize, heads, kvHeads, headDim, scale, blocksPerSplit, partAcc, partMax, partSum, arrivals, out, lse, liveBlocks,
     * blockIndex, firstPosition, Part second)}, the second part a struct by value: {@code {slab, slots, validRows, mask,
     * headMask, blockIndex, capacity, nBlocks}} (six pointers, two ints, 8-byte aligned).
     */
    static LaunchArgs packAttend(LaunchArgs a, PagedKvShape s, long q, long slab, long slots, long validRows, long mask, long headMask,
                                 int capacity, int nBlocks, float scale, int blocksPerSplit, long partAcc, long partMax, long partSum,
                                 long arrivals, long out, long lse, long liveBlocks, long blockIndex, int firstPosition, PagedPart second,
                                 int secondCapacity) {
        return a.clear().i64(q).i64(slab).i64(s.slotBytes()).i64(s.halfBytes()).i64(slots).i64(validRows).i64(mask).i64(headMask)
                .i32(capacity).i32(nBlocks).i32(s.blockSize()).i32(s.heads()).i32(s.kvHeads()).i32(s.headDim()).f32(scale)
                .i32(blocksPerSplit).i64(partAcc).i64(partMax).i64(partSum).i64(arrivals).i64(out).i64(lse).i64(liveBlocks)
                .i64(blockIndex).i32(firstPosition)
                .i64(second.slab()).i64(second.slots()).i64(second.validRows()).i64(second.mask()).i64(second.headMask())
                .i64(second.blockIndex()).i32(secondCapacity).i32(second.nBlocks());
    }

    /**
     * How many times the split scratch and the arrival counters have been reallocated: a launch captured in a CUDA graph
     * holds their addresses, so a graph captured at another generation must not be launched.
     */
    public int scratchGeneration() {
        return scratchGeneration;
    }

    /** The kernel for a KV dtype suffix ({@code f32}, {@code f16}, {@code bf16}) and G query heads per CTA. */
    static String kernelName(String dtypeSuffix, int headsPerCta) {
        return "paged_attention_" + dtypeSuffix + "_g" + headsPerCta;
    }

    /**
     * Enqueues the exact merge of two normalised parts: {@code out = w1 o1 + w2 o2}, {@code w_i = exp(lse_i - L)},
     * {@code lseOut = L = log(exp(lse1) + exp(lse2))}. {@code out}/{@code lseOut} may be {@code o1}/{@code lse1}
     * or {@code o2}/{@code lse2}. All device fp32: o {@code [heads][headDim]}, lse {@code [heads]}.
     */
    public void mergeAsync(long o1, long lse1, long o2, long lse2, long out, long lseOut, int heads, int headDim, CudaStream stream) {
        Args.positive("heads", heads);
        Args.positive("headDim", headDim);
        for (long a : new long[] {o1, lse1, o2, lse2, out, lseOut}) {
            Args.address("merge operand", a, 4);
        }
        args.clear().i64(o1).i64(lse1).i64(o2).i64(lse2).i32(headDim).i64(out).i64(lseOut); // lse_merge(o1, lse1, o2, lse2, headDim, out, lseOut)
        module.launch("lse_merge", heads, 1, LaunchPlans.ATTENTION_THREADS, 0, stream, args);
    }

    private void allowShared(String function, int bytes, CudaStream stream) {
        if (bytes > sharedAllowed.getOrDefault(function, DEFAULT_SHARED)) {
            refuseInCapture(function + "'s shared memory limit", stream);
            module.allowSharedMemory(function, bytes);
            sharedAllowed.put(function, bytes);
        }
    }

    /** Grows the partials' scratch and the arrival counters; new counters are zeroed on {@code stream}, before the launch. */
    private void ensureScratch(long bytes, long arrivalBytes, CudaStream stream) {
        if (scratch != null && arrivals != null && scratch.bytes() >= bytes && arrivals.bytes() >= arrivalBytes) {
            return;
        }
        refuseInCapture("the split scratch", stream);
        // Every use waits for the one before (the fence), so the last one's end means none still reads the old scratch; and
        // this stream's queue, where graphs captured with the scratch are replayed (a replay records no fence). Not a
        // context-wide wait, which would also wait for the tiers' copies in flight.
        scratchFree.beforeHostWrite();
        stream.synchronize();
        long scratchBytes = Math.max(bytes, scratch == null ? 64 * 1024 : scratch.bytes());
        long counterBytes = Math.max(arrivalBytes, arrivals == null ? 1024 : arrivals.bytes());
        freeScratch();
        scratchGeneration++;
        try { // a failed allocation leaves neither: the next call allocates both again
            scratch = new DeviceBuffer(context, scratchBytes);
            arrivals = new DeviceBuffer(context, counterBytes);
        } catch (RuntimeException | Error e) {
            freeScratch();
            throw e;
        }
        arrivals.fill(0, counterBytes, (byte) 0, stream);
    }

    /**
     * Growing the scratch waits for its last use on the host, which a stream capture cannot hold: a captured launch must follow one
     * outside the capture with the same plan (the scratch only grows), and this says so instead of breaking the capture.
     */
    private static void refuseInCapture(String what, CudaStream stream) {
        if (stream.isCapturing()) {
            throw new IllegalStateException("paged attention would grow " + what + " inside a stream capture: run the same launch"
                    + " once outside the capture first");
        }
    }

    private void freeScratch() {
        if (scratch != null) {
            scratch.close();
            scratch = null;
        }
        if (arrivals != null) {
            arrivals.close();
            arrivals = null;
        }
    }

    /** Waits for queued work, then frees the scratch, the fence and the module; idempotent. */
    @Override
    public void close() {
        DeviceBuffer s = scratch;
        DeviceBuffer a = arrivals;
        scratch = null;
        arrivals = null;
        // every resource closed, also when the wait or an earlier free fails (a sticky fault); the first failure thrown
        try (module; scratchFree; args; a; s) {
            if (!context.isClosed()) {
                context.synchronize();
            }
        }
    }
}

package io.tierkv.cuda.ops;

import io.tierkv.cuda.driver.CudaContext;
import io.tierkv.cuda.driver.CudaDevice;
import io.tierkv.cuda.driver.CudaStream;
import io.tierkv.cuda.driver.DeviceBuffer;
import io.tierkv.cuda.driver.KernelModule;
import io.tierkv.cuda.driver.ReuseFence;
import jcuda.Pointer;
import jcuda.driver.CUdevice_attribute;

/**
 * Paged decode attention for one query token ({@code src/main/cuda/paged_attention.cu}): all heads, grouped-query
 * attention, K and V read in place from a slab ({@link PagedKvShape}) through a block table of slot ids, with the
 * causal edge (valid rows per block) and an evict mask; the result per head is the <b>normalised</b> partial
 * output and its log-sum-exp (natural log of {@code sum exp(scale * q.k)} over the live rows; {@code -inf} and a
 * zero output when none). Two parts, for example device-tier blocks and host-tier blocks read over mapped pinned
 * memory (pass the pinned buffer's UVA address as the slab), merge exactly with {@link #mergeAsync}.
 *
 * <p>Work is split flash-decoding style over {@code kvHeads x splits} CTAs ({@link LaunchPlans#attentionSplits}),
 * then combined. The split scratch is owned here, grown on demand, and guarded by a {@link ReuseFence}, so that
 * calls on different streams do not overwrite each other's partials. Not thread-safe.
 */
public final class CudaPagedAttention implements AutoCloseable {
    /** The module ({@code paged_attention.cu}). */
    public static final String MODULE = "paged_attention";
    static final int DEFAULT_SHARED = 48 * 1024;

    private final CudaContext context;
    private final KernelModule module;
    private final int sms;
    private final int sharedOptIn;
    private final int[] sharedAllowed = {DEFAULT_SHARED, DEFAULT_SHARED, DEFAULT_SHARED};
    private final ReuseFence<CudaStream> scratchFree;
    private DeviceBuffer scratch; // partAcc [heads][splits][headDim], partMax [heads][splits], partSum [heads][splits]

    private final long[] qArg = new long[1];
    private final long[] slabArg = new long[1];
    private final long[] slotBytesArg = new long[1];
    private final long[] halfBytesArg = new long[1];
    private final long[] slotsArg = new long[1];
    private final long[] validArg = new long[1];
    private final long[] maskArg = new long[1];
    private final int[] capacityArg = new int[1];
    private final int[] nBlocksArg = new int[1];
    private final int[] blockSizeArg = new int[1];
    private final int[] headsArg = new int[1];
    private final int[] kvHeadsArg = new int[1];
    private final int[] headDimArg = new int[1];
    private final float[] scaleArg = new float[1];
    private final int[] perSplitArg = new int[1];
    private final long[] accArg = new long[1];
    private final long[] maxArg = new long[1];
    private final long[] sumArg = new long[1];
    private final int[] splitsArg = new int[1];
    private final long[] outArg = new long[1];
    private final long[] lseArg = new long[1];
    private final long[] o2Arg = new long[1];
    private final long[] lse2Arg = new long[1];
    private final long[] lseOutArg = new long[1];
    private final Pointer attentionParams = Pointer.to(Pointer.to(qArg), Pointer.to(slabArg), Pointer.to(slotBytesArg),
            Pointer.to(halfBytesArg), Pointer.to(slotsArg), Pointer.to(validArg), Pointer.to(maskArg), Pointer.to(capacityArg), Pointer.to(nBlocksArg),
            Pointer.to(blockSizeArg), Pointer.to(headsArg), Pointer.to(kvHeadsArg), Pointer.to(headDimArg), Pointer.to(scaleArg),
            Pointer.to(perSplitArg), Pointer.to(accArg), Pointer.to(maxArg), Pointer.to(sumArg));
    // attention_combine(partAcc, partMax, partSum, splits, headDim, out, lse)
    private final Pointer combineParams = Pointer.to(Pointer.to(accArg), Pointer.to(maxArg), Pointer.to(sumArg), Pointer.to(splitsArg),
            Pointer.to(headDimArg), Pointer.to(outArg), Pointer.to(lseArg));
    // lse_merge(o1, lse1, o2, lse2, headDim, out, lseOut)
    private final Pointer mergeParams = Pointer.to(Pointer.to(qArg), Pointer.to(lseArg), Pointer.to(o2Arg), Pointer.to(lse2Arg),
            Pointer.to(headDimArg), Pointer.to(outArg), Pointer.to(lseOutArg));

    /** Loads the kernels into {@code context} (kept open by the caller, closed after this). */
    public CudaPagedAttention(CudaContext context) {
        this.context = context;
        this.module = KernelModule.load(context, MODULE);
        this.sms = context.device().multiprocessors();
        this.sharedOptIn = CudaDevice.attribute(context.ordinal(), CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN);
        this.scratchFree = ReuseFence.create(context);
        for (String f : new String[] {"paged_attention_f32", "paged_attention_f16", "paged_attention_bf16", "attention_combine", "lse_merge"}) {
            module.function(f);
        }
    }

    /**
     * Enqueues attention of {@code q} ({@code [heads][headDim]} fp32) over list entries {@code 0 .. nBlocks - 1}.
     *
     * @param slab      base of the slab (device memory, or the UVA address of mapped pinned memory), 16-byte aligned
     * @param slabBytes the slab's size: slot ids outside {@code [0, slabBytes / slotBytes)} are skipped, never read
     * @param slots     device i32 {@code [nBlocks]}: the slot of each list entry
     * @param validRows device i32 {@code [nBlocks]}: rows before the causal edge per entry, or 0 for all {@code blockSize}
     * @param mask      device u8 {@code [nBlocks][blockSize]}: non-zero rows are evicted, or 0 for none
     * @param scale     the softmax scale, usually {@code 1 / sqrt(headDim)}
     * @param out       device fp32 {@code [heads][headDim]}: the normalised partial output
     * @param lse       device fp32 {@code [heads]}: its log-sum-exp
     */
    public void attendAsync(PagedKvShape s, long q, long slab, long slabBytes, long slots, long validRows, long mask, int nBlocks,
                            float scale, long out, long lse, CudaStream stream) {
        Args.address("q", q, 4);
        Args.address("slab", slab, 16);
        Args.address("out", out, 4);
        Args.address("lse", lse, 4);
        if (nBlocks > 0) {
            Args.address("slots", slots, 4);
        }
        Args.optionalAddress("validRows", validRows, 4);
        if (!Float.isFinite(scale)) {
            throw new IllegalArgumentException("scale must be finite, was " + scale);
        }
        long capacity = slabBytes / s.slotBytes();
        if (nBlocks > 0 && (capacity < 1 || capacity > Integer.MAX_VALUE)) {
            throw new IllegalArgumentException("slabBytes " + slabBytes + " must hold 1 to 2^31 - 1 slots of " + s.slotBytes() + " bytes");
        }
        int[] split = LaunchPlans.attentionSplits(nBlocks, s.kvHeads(), sms);
        int splits = split[0];
        int shared = LaunchPlans.attentionSharedBytes(s.group(), s.headDim());
        if (shared > sharedOptIn) {
            throw new IllegalArgumentException("paged attention needs " + shared + " bytes of shared memory for group " + s.group()
                    + " x headDim " + s.headDim() + "; the device allows " + sharedOptIn);
        }
        long accFloats = (long) s.heads() * splits * s.headDim();
        long floats = accFloats + 2L * s.heads() * splits;
        ensureScratch(Math.max(floats, 1) * Float.BYTES);
        scratchFree.beforeDeviceUse(stream);
        long acc = scratch.address();
        accArg[0] = acc;
        maxArg[0] = acc + accFloats * Float.BYTES;
        sumArg[0] = maxArg[0] + (long) s.heads() * splits * Float.BYTES;
        headDimArg[0] = s.headDim();
        if (splits > 0) {
            String f = "paged_attention_" + DTypeCodes.suffix(s.dtype());
            allowShared(s.dtype().ordinal(), f, shared);
            qArg[0] = q;
            slabArg[0] = slab;
            slotBytesArg[0] = s.slotBytes();
            halfBytesArg[0] = s.halfBytes();
            slotsArg[0] = slots;
            validArg[0] = validRows;
            maskArg[0] = mask;
            capacityArg[0] = (int) capacity;
            nBlocksArg[0] = nBlocks;
            blockSizeArg[0] = s.blockSize();
            headsArg[0] = s.heads();
            kvHeadsArg[0] = s.kvHeads();
            scaleArg[0] = scale;
            perSplitArg[0] = split[1];
            module.launch(f, s.kvHeads(), splits, LaunchPlans.ATTENTION_THREADS, shared, stream, attentionParams);
        }
        splitsArg[0] = splits;
        outArg[0] = out;
        lseArg[0] = lse;
        module.launch("attention_combine", s.heads(), 1, LaunchPlans.ATTENTION_THREADS, 0, stream, combineParams);
        scratchFree.afterUse(stream);
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
        qArg[0] = o1;
        lseArg[0] = lse1;
        o2Arg[0] = o2;
        lse2Arg[0] = lse2;
        headDimArg[0] = headDim;
        outArg[0] = out;
        lseOutArg[0] = lseOut;
        module.launch("lse_merge", heads, 1, LaunchPlans.ATTENTION_THREADS, 0, stream, mergeParams);
    }

    private void allowShared(int index, String function, int bytes) {
        if (bytes > sharedAllowed[index]) {
            module.allowSharedMemory(function, bytes);
            sharedAllowed[index] = bytes;
        }
    }

    private void ensureScratch(long bytes) {
        if (scratch != null && scratch.bytes() >= bytes) {
            return;
        }
        context.synchronize(); // a queued launch on any stream may still use the old scratch
        if (scratch != null) {
            scratch.close();
        }
        scratch = new DeviceBuffer(context, Math.max(bytes, 64 * 1024));
    }

    /** Waits for queued work, then frees the scratch, the fence and the module; idempotent. */
    @Override
    public void close() {
        if (!context.isClosed()) {
            context.synchronize();
        }
        try (module; scratchFree) {
            if (scratch != null) {
                scratch.close();
                scratch = null;
            }
        }
    }
}

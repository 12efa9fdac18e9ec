package io.tierkv.cuda.ops;

import io.tierkv.cuda.driver.CudaContext;
import io.tierkv.cuda.driver.CudaStream;
import io.tierkv.cuda.driver.KernelModule;
import io.tierkv.cuda.driver.LaunchArgs;

/**
 * The attention probabilities of one decode query over one paged part, scattered to token positions
 * ({@code src/main/cuda/paged_probs.cu}): {@code probs[h][blocks[i] * blockSize + r] = exp(scale * q_h . k - lse_h)} for
 * every live row {@code r} of list entry {@code i}, with the query's <b>final</b> log-sum-exp (after the parts' merge),
 * so the parts together give each head's softmax. Masked rows, rows past the causal edge, slots outside the slab and,
 * per head, list entries its KV head's head mask leaves out are not written: the caller zeroes {@code probs} once per
 * step, then runs this per part, then the popularity top-k over {@code [heads][stride]} (its head sums rank as the head
 * average does). {@link #reference} is the same in Java (the host mirror's kernel and the oracle). Not thread-safe
 * (launch arguments are reused).
 */
public final class CudaPagedProbs implements AutoCloseable {
    /** The module ({@code paged_probs.cu}). */
    public static final String MODULE = "paged_probs";
    static final String KERNEL = "paged_probs";
    static final int THREADS = 128;
    /** Bytes of paged_probs's packed arguments (188 bytes with the second part); the launch-layout tests pack into this many. */
    static final int ARGS_BYTES = 192;

    private final KernelModule module;
    private final LaunchArgs args;

    /** Loads the kernel into {@code context} (kept open by the caller, closed after this). */
    public CudaPagedProbs(CudaContext context) {
        LoadedModule loaded = LoadedModule.load(context, MODULE, ARGS_BYTES, KERNEL);
        this.module = loaded.module();
        this.args = loaded.args();
    }

    /**
     * {@link #probsAsync(PagedKvShape, long, long, long, long, long, long, long, long, int, float, long, long, int, CudaStream)
     * probsAsync} without a head mask: every list entry counts for every KV head.
     */
    public void probsAsync(PagedKvShape s, long q, long slab, long slabBytes, long slots, long validRows, long mask, long blocks,
                           int nBlocks, float scale, long lse, long probs, int stride, CudaStream stream) {
        probsAsync(s, q, slab, slabBytes, slots, validRows, mask, 0, blocks, nBlocks, scale, lse, probs, stride, stream);
    }

    /**
     * Enqueues the probabilities of {@code q} ({@code [heads][headDim]} fp32) over list entries {@code 0 .. nBlocks - 1}.
     *
     * @param headMask device u8 {@code [nBlocks][kvHeads]}, or 0 for none: where {@code headMask[i * kvHeads + g] == 0}, nothing
     *                 is written for entry {@code i} and the query heads of KV head {@code g}
     * @param blocks   device i32 {@code [nBlocks]}: the block index of each list entry (its first token is {@code blocks[i] * blockSize})
     * @param lse      device fp32 {@code [heads]}: the query's final log-sum-exp over all parts
     * @param probs    device fp32 {@code [heads][stride]}: written at token positions below {@code stride}
     * Other arguments as {@link CudaPagedAttention#attendAsync(PagedKvShape, long, long, long, long, long, long, long, int, float,
     * long, long, CudaStream) CudaPagedAttention.attendAsync}.
     */
    public void probsAsync(PagedKvShape s, long q, long slab, long slabBytes, long slots, long validRows, long mask, long headMask,
                           long blocks, int nBlocks, float scale, long lse, long probs, int stride, CudaStream stream) {
        probsPartsAsync(s, q, new PagedPart(slab, slabBytes, slots, validRows, blocks, mask, headMask, nBlocks), PagedPart.NONE, scale, lse,
                probs, stride, stream);
    }

    /**
     * {@link #probsAsync(PagedKvShape, long, long, long, long, long, long, long, long, int, float, long, long, int, CudaStream)
     * probsAsync} over two parts in one launch (a tiered sequence's device blocks and its host blocks): each part's
     * {@link PagedPart#blockIndex} is its {@code blocks} and must be set when it has entries.
     */
    public void probsPartsAsync(PagedKvShape s, long q, PagedPart first, PagedPart second, float scale, long lse, long probs, int stride,
                                CudaStream stream) {
        int nBlocks = Math.addExact(first.nBlocks(), second.nBlocks());
        check(s, nBlocks, stride);
        if (nBlocks == 0) {
            return;
        }
        Args.address("q", q, 4);
        Args.address("lse", lse, 4);
        Args.address("probs", probs, 4);
        for (PagedPart p : new PagedPart[] {first, second}) {
            if (p.nBlocks() > 0) {
                Args.address("slab", p.slab(), 4);
                Args.address("slots", p.slots(), 4);
                Args.address("blocks", p.blockIndex(), 4);
            }
        }
        long rows = (long) nBlocks * s.blockSize();
        int grid = (int) ((rows + THREADS - 1) / THREADS);
        pack(args, s, q, first, scale, lse, probs, stride, second);
        module.launch(KERNEL, grid, s.kvHeads(), THREADS, 0, stream, args); // a thread per (row, KV head) scores the KV head's query heads
    }

    /**
     * {@code paged_probs(q, slab, slabBytes, slotBytes, slots, validRows, mask, headMask, blocks, nBlocks, blockSize, heads, kvHeads,
     * headDim, dtype, scale, lse, probs, stride, slab2, slabBytes2, slots2, validRows2, mask2, headMask2, blocks2, nBlocks2)}.
     */
    static LaunchArgs pack(LaunchArgs a, PagedKvShape s, long q, PagedPart first, float scale, long lse, long probs, int stride,
                           PagedPart second) {
        return a.clear().i64(q).i64(first.slab()).i64(first.slabBytes()).i64(s.slotBytes()).i64(first.slots()).i64(first.validRows())
                .i64(first.mask()).i64(first.headMask()).i64(first.blockIndex()).i32(first.nBlocks()).i32(s.blockSize()).i32(s.heads())
                .i32(s.kvHeads()).i32(s.headDim()).i32(DTypeCodes.code(s.dtype())).f32(scale).i64(lse).i64(probs).i32(stride)
                .i64(second.slab()).i64(second.slabBytes()).i64(second.slots()).i64(second.validRows()).i64(second.mask())
                .i64(second.headMask()).i64(second.blockIndex()).i32(second.nBlocks());
    }

    /** The host checks: a non-negative entry count whose rows fit one grid, a positive stride. */
    static void check(PagedKvShape s, int nBlocks, int stride) {
        if (nBlocks < 0) {
            throw new IllegalArgumentException("nBlocks must be >= 0, was " + nBlocks);
        }
        if (stride <= 0) {
            throw new IllegalArgumentException("stride must be > 0, was " + stride);
        }
        if ((long) nBlocks * s.blockSize() > (long) Integer.MAX_VALUE * THREADS / 2) {
            throw new IllegalArgumentException(nBlocks + " blocks of " + s.blockSize() + " rows exceed one grid");
        }
        if (s.kvHeads() > 65535) {
            throw new IllegalArgumentException("KV heads must be at most 65535 (grid y), was " + s.kvHeads());
        }
    }

    /**
     * {@link #reference(PagedKvShape, float[], float[], int[], int[], byte[], byte[], int[], int, float, float[], float[], int)
     * reference} without a head mask.
     */
    public static void reference(PagedKvShape s, float[] q, float[] slab, int[] slots, int[] validRows, byte[] mask, int[] blocks,
                                 int nBlocks, float scale, float[] lse, float[] probs, int stride) {
        reference(s, q, slab, slots, validRows, mask, null, blocks, nBlocks, scale, lse, probs, stride);
    }

    /**
     * The kernel in Java, over a slab given as floats (element index = byte offset / element size): writes
     * {@code probs[h * stride + token]} for every live row, leaves the rest as it is. {@code validRows}, {@code mask} and
     * {@code headMask} ({@code [nBlocks][kvHeads]}, 0 = entry left out for that KV head's query heads) may be null.
     *
     * @throws IllegalArgumentException for a negative {@code nBlocks}, more rows than one grid holds, more than 65535 KV heads, a
     *                                  {@code stride <= 0}, or a head mask shorter than {@code nBlocks * kvHeads}
     */
    public static void reference(PagedKvShape s, float[] q, float[] slab, int[] slots, int[] validRows, byte[] mask, byte[] headMask,
                                 int[] blocks, int nBlocks, float scale, float[] lse, float[] probs, int stride) {
        check(s, nBlocks, stride);
        ReferenceOps.checkHeadMask(s, headMask, nBlocks);
        int bs = s.blockSize();
        int group = s.heads() / s.kvHeads();
        long slotElems = s.slotBytes() / s.dtype().bytes();
        for (int i = 0; i < nBlocks; i++) {
            int slot = slots[i];
            if (slot < 0 || (slot + 1L) * slotElems > slab.length) {
                continue;
            }
            int valid = validRows == null ? bs : validRows[i];
            for (int r = 0; r < Math.min(bs, valid); r++) {
                if (mask != null && mask[i * bs + r] != 0) {
                    continue;
                }
                long token = (long) blocks[i] * bs + r;
                if (token < 0 || token >= stride) {
                    continue;
                }
                for (int h = 0; h < s.heads(); h++) {
                    if (headMask != null && headMask[i * s.kvHeads() + h / group] == 0) {
                        continue;
                    }
                    long first = slot * slotElems + ((long) r * s.kvHeads() + h / group) * s.headDim();
                    float dot = 0f;
                    for (int d = 0; d < s.headDim(); d++) {
                        dot = Math.fma(q[h * s.headDim() + d], slab[(int) (first + d)], dot);
                    }
                    probs[(int) (h * (long) stride + token)] = (float) Math.exp(scale * dot - lse[h]);
                }
            }
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

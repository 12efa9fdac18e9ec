package io.tierkv.cuda.ops;

import io.tierkv.core.DType;
import java.util.Objects;

/**
 * The geometry of a KV slab that {@link CudaPagedAttention} reads: slot {@code s} starts {@code s * slotBytes}
 * after the slab's base; its K half is {@code [blockSize][kvHeads][headDim]} of {@code dtype} at offset 0, its
 * V half the same at {@link #halfBytes()} (tiering's slot layout, a dense
 * {@code (capacity, 2, blockSize, kvHeads, headDim)} tensor when {@code slotBytes == 2 * halfBytes}).
 *
 * @param dtype     KV element type (F32, F16, BF16)
 * @param heads     query heads
 * @param kvHeads   KV heads, dividing {@code heads}
 * @param headDim   head dimension, at most {@value LaunchPlans#MAX_HEAD_DIM}
 * @param blockSize tokens per block
 * @param slotBytes bytes from one slot to the next, at least {@code 2 * halfBytes}, a multiple of 16
 */
public record PagedKvShape(DType dtype, int heads, int kvHeads, int headDim, int blockSize, long slotBytes) {
    /** Checks every field; throws naming the one that is wrong. */
    public PagedKvShape {
        Objects.requireNonNull(dtype, "dtype");
        LaunchPlans.positive("heads", heads);
        LaunchPlans.positive("kvHeads", kvHeads);
        LaunchPlans.positive("headDim", headDim);
        LaunchPlans.positive("blockSize", blockSize);
        if (heads % kvHeads != 0) {
            throw new IllegalArgumentException("heads " + heads + " must be a multiple of kvHeads " + kvHeads);
        }
        if (headDim > LaunchPlans.MAX_HEAD_DIM) {
            throw new IllegalArgumentException("headDim must be at most " + LaunchPlans.MAX_HEAD_DIM + ", was " + headDim);
        }
        long half = (long) blockSize * kvHeads * headDim * dtype.bytes();
        if (half % 16 != 0) {
            throw new IllegalArgumentException("a block's K half is " + half + " bytes (blockSize " + blockSize + " x kvHeads " + kvHeads
                    + " x headDim " + headDim + " x " + dtype.bytes() + "), not a multiple of 16: misaligned device loads");
        }
        if (slotBytes < 2 * half || slotBytes % 16 != 0) {
            throw new IllegalArgumentException("slotBytes must be a multiple of 16 and at least 2 x " + half + ", was " + slotBytes);
        }
    }

    /** A dense slab: {@code slotBytes = 2 * halfBytes}. */
    public static PagedKvShape dense(DType dtype, int heads, int kvHeads, int headDim, int blockSize) {
        return new PagedKvShape(dtype, heads, kvHeads, headDim, blockSize, 2L * blockSize * kvHeads * headDim * dtype.bytes());
    }

    /** Bytes of one K (or V) half of a slot. */
    public long halfBytes() {
        return (long) blockSize * kvHeads * headDim * dtype.bytes();
    }

    /** Query heads per KV head. */
    public int group() {
        return heads / kvHeads;
    }

    /** Element index of (row r, KV head g, column d) inside a half, in elements. */
    public long element(int r, int g, int d) {
        return ((long) r * kvHeads + g) * headDim + d;
    }
}

package io.tierkv.tiering.remote;

/**
 * Where the K and V bytes of a sequence's blocks live, by logical block and layer: the seam between the
 * remote tier and whoever owns the memory (the tier manager's {@code Sequence}: {@code keyAddress(layer,
 * block * blockSize)} and {@code valueAddress(layer, block * blockSize)}).
 *
 * <p>At each address lie {@link io.tierkv.core.KvLayout#blockHalfBytes()} contiguous bytes: the block's
 * {@code (blockSize, kvHeads, headDim)} keys (or values) in the layout's dtype, row-major, as a slot holds them.
 */
public interface BlockMemory {
    /** Address of the keys of logical block {@code block} in {@code layer}. */
    long keyAddress(int block, int layer);

    /** Address of the values of logical block {@code block} in {@code layer}. */
    long valueAddress(int block, int layer);
}

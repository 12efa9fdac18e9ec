package io.tierkv.tiering.remote;

/**
 * Where the K and V bytes of a sequence's blocks live, by logical block and layer: the seam between the
 * remote tier and whoever owns the memory (the tier manager's {@code Sequence}: {@code keyAddress(layer,
 * block * blockSize)} and {@code valueAddress(layer, block * blockSize)}).
 *
 * <p>At each address lie {@link io.tierkv.core.KvLayout#blockHalfBytes()} contiguous bytes: the block's
 * {@code (blockSize, kvHeads, headDim)} keys (or values) in the layout's dtype, row-major, as a slot holds them.
 * The addresses must be host memory (off-heap or pinned): the remote tier copies with the CPU, so blocks on a
 * CUDA device are loaded into, and offered from, host slots.
 */
public interface BlockMemory {
    /** Where one token's K (or V) row of one layer lives: {@code Sequence::keyAddress}'s shape. */
    @FunctionalInterface
    interface RowAddress {
        long address(int layer, int position);
    }

    /**
     * A view over per-token addresses such as {@code Sequence}'s: block {@code b} of layer {@code l} starts at
     * the row of position {@code b * blockSize}, for example
     * {@code BlockMemory.ofRows(layout.blockSize(), seq::keyAddress, seq::valueAddress)}. The rows of one
     * block must be contiguous (they are in a slot).
     */
    static BlockMemory ofRows(int blockSize, RowAddress keys, RowAddress values) {
        if (blockSize <= 0) {
            throw new IllegalArgumentException("blockSize must be > 0, was " + blockSize);
        }
        return new BlockMemory() {
            @Override
            public long keyAddress(int block, int layer) {
                return keys.address(layer, block * blockSize);
            }

            @Override
            public long valueAddress(int block, int layer) {
                return values.address(layer, block * blockSize);
            }
        };
    }

    /** Address of the keys of logical block {@code block} in {@code layer}. */
    long keyAddress(int block, int layer);

    /** Address of the values of logical block {@code block} in {@code layer}. */
    long valueAddress(int block, int layer);
}

package io.tierkv.tiering.remote;

import org.agrona.UnsafeApi;

/**
 * Where the K and V bytes of a sequence's blocks live, by logical block and layer: the seam between the
 * remote tier and whoever owns the memory (the tier manager's {@code Sequence}: {@code keyAddress(layer,
 * block * blockSize)} and {@code valueAddress(layer, block * blockSize)}).
 *
 * <p>At each address lie {@link io.tierkv.core.KvLayout#blockHalfBytes()} contiguous bytes: the block's
 * {@code (blockSize, kvHeads, headDim)} keys (or values) in the layout's dtype, row-major, as a slot holds them.
 * The remote tier copies through {@link #read} and {@link #write}, which by default load and store at the addresses
 * with the CPU: they must then be host memory (off-heap or pinned). A view over memory the CPU cannot reach (a CUDA
 * device slab) overrides both and copies through the driver.
 */
public interface BlockMemory {
    /** Where a byte array's elements start, for {@code Unsafe} copies. */
    long BYTE_ARRAY_BASE = UnsafeApi.arrayBaseOffset(byte[].class);

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

    /**
     * Copies the {@code length} bytes of logical block {@code block}'s keys ({@code values} false) or values in
     * {@code layer} into {@code dst[offset ..]}; by default from {@link #keyAddress} or {@link #valueAddress}.
     */
    default void read(int block, int layer, boolean values, byte[] dst, int offset, int length) {
        long from = values ? valueAddress(block, layer) : keyAddress(block, layer);
        UnsafeApi.copyMemory(null, from, dst, BYTE_ARRAY_BASE + offset, length);
    }

    /** The reverse of {@link #read}: {@code src[offset ..]} into the block's keys or values in {@code layer}. */
    default void write(int block, int layer, boolean values, byte[] src, int offset, int length) {
        long to = values ? valueAddress(block, layer) : keyAddress(block, layer);
        UnsafeApi.copyMemory(src, BYTE_ARRAY_BASE + offset, null, to, length);
    }

    /**
     * Copies block {@code block}'s keys and values of all {@code layers} into {@code dst[offset ..]} as a remote value's
     * payload lays them out: each layer's keys, then its values, {@code halfBytes} each. By default one {@link #read}
     * per half; an implementation over a device slab copies them all with one wait.
     */
    default void readBlock(int block, int layers, int halfBytes, byte[] dst, int offset) {
        for (int layer = 0; layer < layers; layer++) {
            read(block, layer, false, dst, offset + 2 * layer * halfBytes, halfBytes);
            read(block, layer, true, dst, offset + (2 * layer + 1) * halfBytes, halfBytes);
        }
    }

    /** The reverse of {@link #readBlock}: a payload laid out as it describes, from {@code src[offset ..]}, into the block. */
    default void writeBlock(int block, int layers, int halfBytes, byte[] src, int offset) {
        for (int layer = 0; layer < layers; layer++) {
            write(block, layer, false, src, offset + 2 * layer * halfBytes, halfBytes);
            write(block, layer, true, src, offset + (2 * layer + 1) * halfBytes, halfBytes);
        }
    }
}

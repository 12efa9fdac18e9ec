package io.tierkv.tiering;

import io.tierkv.core.KvLayout;

/**
 * The layout of one block slot and of the slabs that hold them, written down once.
 *
 * <p>A slot holds one block of one layer: K then V, each {@code (blockSize, kvHeads, headDim)} of the
 * layout's dtype, row-major; so a slot is a {@code (2, blockSize, kvHeads, headDim)} tensor. Token
 * {@code t} of logical block {@code b} is row {@code t - b * blockSize}. Slots are packed with no padding,
 * so a whole slab is one dense {@code (capacity, 2, blockSize, kvHeads, headDim)} tensor that the model
 * can wrap once ({@code from_blob}) and index by slot.
 *
 * <pre>
 *  slab (base aligned to SLAB_ALIGNMENT bytes)
 *  +-----------+-----------+-----------+-- ... --+-----------------+
 *  | slot 0    | slot 1    | slot 2    |         | slot capacity-1 |
 *  +-----------+-----------+-----------+-- ... --+-----------------+
 *  ^ base      ^ base + slotBytes
 *
 *  one slot, slotBytes = 2 * blockSize * kvHeads * headDim * dtype.bytes()
 *  0                                        halfBytes                                 slotBytes
 *  +----------+----------+-----+------------+----------+----------+-----+------------+
 *  | K row 0  | K row 1  | ... | K row bs-1 | V row 0  | V row 1  | ... | V row bs-1 |
 *  +----------+----------+-----+------------+----------+----------+-----+------------+
 *  each row: kvHeads * headDim elements of dtype, head-major ((kvHeads, headDim) row-major)
 *  keyOffset(r) = r * rowBytes                valueOffset(r) = halfBytes + r * rowBytes
 * </pre>
 *
 * <p>The arena never interprets these bytes; only the model and the tests do.
 */
public final class BlockDescriptor {
    /**
     * Alignment of every slab's base address: a page, which also satisfies CUDA's 256-byte allocation
     * alignment and any SIMD load.
     */
    public static final int SLAB_ALIGNMENT = 4096;
    /** Offset of K row 0 in a slot. */
    public static final int KEY_OFFSET = 0;

    private final KvLayout layout;
    private final long rowBytes;
    private final long halfBytes;
    private final long slotBytes;

    public BlockDescriptor(KvLayout layout) {
        if (layout == null) {
            throw new IllegalArgumentException("layout must not be null");
        }
        this.layout = layout;
        this.rowBytes = (long) layout.tokenWidth() * layout.dtype().bytes();
        this.halfBytes = layout.blockSize() * rowBytes;
        this.slotBytes = 2 * halfBytes;
    }

    public KvLayout layout() {
        return layout;
    }

    /** Bytes of one K (or V) row: {@code kvHeads * headDim * dtype.bytes()}. */
    public long rowBytes() {
        return rowBytes;
    }

    /** Bytes of K (or V) of a whole block; V starts here. */
    public long halfBytes() {
        return halfBytes;
    }

    /** Bytes of one slot: K and V of one block of one layer. */
    public long slotBytes() {
        return slotBytes;
    }

    /** Tokens per block. */
    public int blockSize() {
        return layout.blockSize();
    }

    /** Offset of K row {@code row} inside a slot. */
    public long keyOffset(int row) {
        checkRow(row);
        return KEY_OFFSET + row * rowBytes;
    }

    /** Offset of V row {@code row} inside a slot. */
    public long valueOffset(int row) {
        checkRow(row);
        return halfBytes + row * rowBytes;
    }

    /** The logical block holding token {@code position}. */
    public int blockOf(int position) {
        return position / layout.blockSize();
    }

    /** The row of token {@code position} inside its block. */
    public int rowOf(int position) {
        return position % layout.blockSize();
    }

    private void checkRow(int row) {
        if (row < 0 || row >= layout.blockSize()) {
            throw new IndexOutOfBoundsException("row " + row + " outside [0, " + layout.blockSize() + ")");
        }
    }

    @Override
    public String toString() {
        return "BlockDescriptor[(2, " + layout.blockSize() + ", " + layout.kvHeads() + ", " + layout.headDim() + ") "
                + layout.dtype() + " = " + slotBytes + " bytes per slot]";
    }
}

package io.tierkv.cuda.ops;

/**
 * One list of KV blocks that {@link CudaPagedAttention} attends, by device address: the slab they lie in (device memory, or
 * the UVA address of mapped pinned memory) and, per list entry, its slot, valid rows, evict mask and head mask, and the
 * block it holds (for a query row's causal edge). A launch attends one part, or two (a tiered sequence's device and host
 * blocks) as one list: the first part's entries, then the second's.
 *
 * @param slab       base of the slab, 16-byte aligned
 * @param slabBytes  the slab's size: slot ids outside {@code [0, slabBytes / slotBytes)} are skipped, never read
 * @param slots      i32 {@code [nBlocks]}: the slot of each entry
 * @param validRows  i32 {@code [nBlocks]}: rows before the causal edge per entry, or 0 for all {@code blockSize}
 * @param blockIndex i32 {@code [nBlocks]}: the block each entry holds, or 0 when entry b holds block b (read only for a
 *                   query row's edge)
 * @param mask       u8 {@code [nBlocks][blockSize]}: non-zero rows are evicted, or 0 for none
 * @param headMask   u8 {@code [nBlocks][kvHeads]}, or 0 for none: 0 leaves the entry out for that KV head's query heads
 * @param nBlocks    entries, at least 0
 */
public record PagedPart(long slab, long slabBytes, long slots, long validRows, long blockIndex, long mask, long headMask, int nBlocks) {
    /** No second part. */
    public static final PagedPart NONE = new PagedPart(0, 0, 0, 0, 0, 0, 0, 0);

    public PagedPart {
        if (nBlocks < 0) {
            throw new IllegalArgumentException("nBlocks must be >= 0, was " + nBlocks);
        }
    }

    /** Slots in the slab of {@code shape}'s slots, checked when the part has entries. */
    int capacity(PagedKvShape shape) {
        if (nBlocks == 0) {
            return 0;
        }
        Args.address("slab", slab, 16);
        Args.address("slots", slots, 4);
        Args.optionalAddress("validRows", validRows, 4);
        Args.optionalAddress("blockIndex", blockIndex, 4);
        long capacity = slabBytes / shape.slotBytes();
        if (capacity < 1 || capacity > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("slabBytes " + slabBytes + " must hold 1 to 2^31 - 1 slots of " + shape.slotBytes() + " bytes");
        }
        return (int) capacity;
    }
}

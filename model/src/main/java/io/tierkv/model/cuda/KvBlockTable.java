package io.tierkv.model.cuda;

import java.util.Arrays;

/**
 * One sequence's block table: list entry {@code b} (tokens {@code b * blockSize .. (b + 1) * blockSize - 1}) lives in
 * slab slot {@code slot(b)}. Host bookkeeping only; {@link PagedKvCache} mirrors it on the device.
 *
 * <pre>
 *   blockSize 4, 6 tokens appended:   entry 0 -> slot 0 (rows 0..3 full), entry 1 -> slot 1 (rows 0..1, 2 valid)
 *   the next append goes to entry 1, row 2; the 9th token opens entry 2 in the next free slot.
 * </pre>
 *
 * Slots come from a free list in ascending order, so a fresh table maps entry b to slot b; {@link #reset()} returns
 * them all. Running out of slots is an error naming the capacity (the decoder sizes the slab for its max tokens).
 */
final class KvBlockTable {
    private final int blockSize;
    private final int[] slots;   // [capacity] slot of each list entry, -1 past the end
    private final int[] free;    // stack of free slots, top at freeCount - 1
    private int freeCount;
    private int tokens;

    KvBlockTable(int blockSize, int capacityBlocks) {
        if (blockSize < 1) {
            throw new IllegalArgumentException("blockSize must be >= 1, was " + blockSize);
        }
        if (capacityBlocks < 1) {
            throw new IllegalArgumentException("capacityBlocks must be >= 1, was " + capacityBlocks);
        }
        this.blockSize = blockSize;
        this.slots = new int[capacityBlocks];
        this.free = new int[capacityBlocks];
        reset();
    }

    /** Blocks needed for {@code tokens} tokens of {@code blockSize}. */
    static int blocksFor(long tokens, int blockSize) {
        long n = (tokens + blockSize - 1) / blockSize;
        if (n > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(tokens + " tokens need more than 2^31 - 1 blocks of " + blockSize);
        }
        return (int) n;
    }

    /** Forgets every token; all slots are free again. */
    void reset() {
        Arrays.fill(slots, -1);
        for (int i = 0; i < free.length; i++) {
            free[i] = free.length - 1 - i; // slot 0 on top
        }
        freeCount = free.length;
        tokens = 0;
    }

    /**
     * Makes room for one more token and returns its position; {@link #slot}, {@link #row} and {@link #opensBlock} then
     * describe where it goes.
     */
    int append() {
        if (tokens % blockSize == 0) {
            if (freeCount == 0) {
                throw new IllegalStateException("the KV cache is full: " + slots.length + " blocks of " + blockSize + " tokens ("
                        + (long) slots.length * blockSize + " tokens)");
            }
            slots[tokens / blockSize] = free[--freeCount];
        }
        return tokens++;
    }

    /** Whether the token at {@code position} is the first of its block (its append claimed a slot). */
    boolean opensBlock(int position) {
        return position % blockSize == 0;
    }

    /** The list entry of {@code position}. */
    int block(int position) {
        return position / blockSize;
    }

    /** The row of {@code position} inside its block. */
    int row(int position) {
        return position % blockSize;
    }

    /** The slot of list entry {@code block}. */
    int slot(int block) {
        if (block < 0 || block >= blocks()) {
            throw new IllegalArgumentException("block " + block + " is outside the table of " + blocks() + " blocks");
        }
        return slots[block];
    }

    /** Valid rows of list entry {@code block}: {@code blockSize}, except in a partly filled last block. */
    int validRows(int block) {
        slot(block);
        return Math.min(blockSize, tokens - block * blockSize);
    }

    /** List entries in use. */
    int blocks() {
        return blocksFor(tokens, blockSize);
    }

    /** Tokens appended. */
    int tokens() {
        return tokens;
    }

    int blockSize() {
        return blockSize;
    }

    int capacityBlocks() {
        return slots.length;
    }
}

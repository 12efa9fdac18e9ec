package io.tierkv.core.block;

import io.tierkv.core.Level;
import io.tierkv.core.Transitions;
import java.util.Arrays;

/**
 * Folds token levels into block levels. Block {@code b} of a layer holds tokens
 * {@code [b * blockSize, (b + 1) * blockSize)}; its level is that of its most popular live token, and
 * it becomes EVICT (free) when it is full and all its tokens are evicted. A partly filled tail block is
 * never freed: the next token goes there.
 *
 * <p>Per block it keeps how many of its tokens sit at each level, so one token transition updates a
 * block in O(1).
 *
 * <pre>
 *   tokens  0..15 | 16..31 | 32..47 | 48..
 *   levels  N N L E | E E E E | C N N N | N N (tail)
 *   block   NORMAL  | EVICT   | CACHE   | NORMAL
 * </pre>
 */
public final class BlockTable {
    private static final int LEVELS = 4;

    private final int layers;
    private final int blockSize;
    /** (layer, block * 4 + level) how many tokens of the block are at the level. */
    private int[][] census;
    /** (layer, block) level code of the block. */
    private byte[][] blockLevels;
    private int length;

    public BlockTable(int layers, int blockSize) {
        if (layers <= 0) {
            throw new IllegalArgumentException("layers must be > 0, was " + layers);
        }
        if (blockSize <= 0) {
            throw new IllegalArgumentException("blockSize must be > 0, was " + blockSize);
        }
        this.layers = layers;
        this.blockSize = blockSize;
        this.census = new int[layers][16 * LEVELS];
        this.blockLevels = new byte[layers][16];
    }

    public int layers() {
        return layers;
    }

    public int blockSize() {
        return blockSize;
    }

    /** Tokens appended so far. */
    public int length() {
        return length;
    }

    /** Blocks in use, the partly filled tail included. */
    public int blocks() {
        return (length + blockSize - 1) / blockSize;
    }

    /** The index of the tail block (the one the next token goes to, or the last one if it is full). */
    public int tailBlock() {
        return Math.max(0, blocks() - 1);
    }

    /** The block holding {@code token}. */
    public int blockOf(int token) {
        return token / blockSize;
    }

    /** True if block {@code b} holds {@code blockSize} tokens. */
    public boolean isFull(int block) {
        return (long) (block + 1) * blockSize <= length;
    }

    public byte level(int layer, int block) {
        if (block < 0 || block >= blocks()) {
            throw new IndexOutOfBoundsException("block " + block + " of " + blocks());
        }
        return blockLevels[layer][block];
    }

    /** Tokens of block {@code b} in layer {@code layer} at {@code level}. */
    public int tokensAt(int layer, int block, Level level) {
        return census[layer][block * LEVELS + level.ordinal()];
    }

    /**
     * Appends {@code count} tokens at {@code level} (NORMAL for every registered policy). New blocks are
     * created at that level without a transition; a tail block whose level changes reports it.
     */
    public void append(int count, byte level, Transitions out) {
        if (count <= 0) {
            throw new IllegalArgumentException("count must be > 0, was " + count);
        }
        int newLength = length + count;
        int newBlocks = (newLength + blockSize - 1) / blockSize;
        ensureBlocks(newBlocks);
        int oldBlocks = blocks();
        for (int t = length; t < newLength; t++) {
            int b = t / blockSize;
            for (int l = 0; l < layers; l++) {
                census[l][b * LEVELS + level]++;
            }
        }
        length = newLength;
        for (int b = Math.max(0, oldBlocks - 1); b < newBlocks; b++) {
            for (int l = 0; l < layers; l++) {
                byte now = derive(l, b);
                if (b >= oldBlocks) {
                    blockLevels[l][b] = now;
                } else {
                    update(l, b, now, out);
                }
            }
        }
    }

    /** Applies token transitions and writes the resulting block transitions to {@code out}. */
    public void apply(Transitions tokens, Transitions out) {
        for (int i = 0; i < tokens.size(); i++) {
            int l = tokens.layer(i);
            int t = tokens.index(i);
            if (t < 0 || t >= length) {
                throw new IllegalArgumentException("transition for token " + t + " but only " + length + " tokens exist");
            }
            int b = t / blockSize;
            int[] c = census[l];
            if (c[b * LEVELS + tokens.from(i)] <= 0) {
                throw new IllegalStateException("layer " + l + " block " + b + " has no token at " + Level.of(tokens.from(i))
                        + " to move (token " + t + ")");
            }
            c[b * LEVELS + tokens.from(i)]--;
            c[b * LEVELS + tokens.to(i)]++;
            update(l, b, derive(l, b), out);
        }
    }

    private void update(int layer, int block, byte now, Transitions out) {
        byte before = blockLevels[layer][block];
        if (now != before) {
            blockLevels[layer][block] = now;
            out.add(layer, block, before, now);
        }
    }

    /** The block's level from its census: the most popular level present; EVICT only when full and empty of live tokens. */
    private byte derive(int layer, int block) {
        int[] c = census[layer];
        int base = block * LEVELS;
        for (int level = Level.CACHE_CODE; level < Level.EVICT_CODE; level++) {
            if (c[base + level] > 0) {
                return (byte) level;
            }
        }
        return isFull(block) ? Level.EVICT_CODE : blockLevels[layer][block];
    }

    private void ensureBlocks(int n) {
        if (n <= blockLevels[0].length) {
            return;
        }
        int capacity = Math.max(n, blockLevels[0].length * 2);
        for (int l = 0; l < layers; l++) {
            blockLevels[l] = Arrays.copyOf(blockLevels[l], capacity);
            census[l] = Arrays.copyOf(census[l], capacity * LEVELS);
        }
    }

    /** Re-checks that every block's census adds up and its level follows from it. */
    public void checkInvariants() {
        for (int l = 0; l < layers; l++) {
            for (int b = 0; b < blocks(); b++) {
                int sum = 0;
                for (int level = 0; level < LEVELS; level++) {
                    sum += census[l][b * LEVELS + level];
                }
                int expected = Math.min(blockSize, length - b * blockSize);
                if (sum != expected) {
                    throw new IllegalStateException("layer " + l + " block " + b + " counts " + sum + " tokens, holds " + expected);
                }
                if (blockLevels[l][b] != derive(l, b)) {
                    throw new IllegalStateException("layer " + l + " block " + b + " is at " + Level.of(blockLevels[l][b])
                            + " but its tokens say " + Level.of(derive(l, b)));
                }
            }
        }
    }
}

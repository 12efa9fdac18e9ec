package io.tierkv.tiering;

import java.util.Arrays;

/**
 * Which tokens of a sequence must not be attended, per layer: those of freed blocks and, in drop mode, those the policy
 * evicted. Kept three ways, each O(1) to read: per token ({@link #masked}), per block (how many, so that a reader skips a
 * block with none at once) and in the order they were masked (so that a reader that saw the first {@code n} marks only
 * the rest). Masks are never lifted. Grows with the sequence; allocates only then. Not thread-safe.
 */
final class TokenMasks {
    private final int blockSize;
    /** (layer, token) true when masked. */
    private final boolean[][] masked;
    /** (layer) tokens masked so far. */
    private final int[] count;
    /** (layer, i) the i-th token masked in the layer, in the order masked; {@code count[layer]} of them. */
    private final int[][] order;
    /** (layer, block) tokens of the block masked so far. */
    private final int[][] inBlock;

    TokenMasks(int layers, int blockSize, int blocks) {
        this.blockSize = blockSize;
        this.masked = new boolean[layers][blocks * blockSize];
        this.count = new int[layers];
        this.order = new int[layers][16];
        this.inBlock = new int[layers][blocks];
    }

    /** Room for {@code blocks} blocks per layer (at least; grows by doubling). */
    void ensureBlocks(int blocks) {
        if (blocks > inBlock[0].length) {
            int capacity = Math.max(blocks, inBlock[0].length * 2);
            for (int l = 0; l < inBlock.length; l++) {
                inBlock[l] = Arrays.copyOf(inBlock[l], capacity);
            }
        }
        if ((long) blocks * blockSize > masked[0].length) {
            int tokens = (int) Math.max((long) blocks * blockSize, masked[0].length * 2L);
            for (int l = 0; l < masked.length; l++) {
                masked[l] = Arrays.copyOf(masked[l], tokens);
            }
        }
    }

    /** Masks a token; true when it was not masked before. */
    boolean mask(int layer, int token) {
        if (masked[layer][token]) {
            return false;
        }
        masked[layer][token] = true;
        if (count[layer] == order[layer].length) {
            order[layer] = Arrays.copyOf(order[layer], 2 * count[layer]);
        }
        order[layer][count[layer]++] = token;
        inBlock[layer][token / blockSize]++;
        return true;
    }

    boolean masked(int layer, int token) {
        return masked[layer][token];
    }

    /** Tokens of the layer masked so far. */
    int count(int layer) {
        return count[layer];
    }

    /** The {@code i}-th token of the layer to be masked, {@code i < count(layer)}. */
    int token(int layer, int i) {
        if (i < 0 || i >= count[layer]) {
            throw new IndexOutOfBoundsException("masked token " + i + " of layer " + layer + " outside [0, " + count[layer] + ")");
        }
        return order[layer][i];
    }

    /** Masked tokens of one block of the layer; 0 for a block past the sequence. */
    int inBlock(int layer, int block) {
        int[] perBlock = inBlock[layer];
        return block >= 0 && block < perBlock.length ? perBlock[block] : 0;
    }
}

package io.tierkv.core;

/**
 * The shape of a model's KV cache and how it is cut into blocks.
 *
 * <p>A <em>block</em> holds the keys and values of {@code blockSize} consecutive tokens of one
 * layer, for all KV heads: {@code (2, blockSize, kvHeads, headDim)} elements of {@code dtype}, keys
 * first. Tokens are the unit of popularity; blocks are the unit of memory.
 *
 * @param layers    number of transformer layers
 * @param kvHeads   number of key/value heads (grouped-query attention may have fewer than query heads)
 * @param headDim   dimension of one head
 * @param dtype     element type of the cache
 * @param blockSize tokens per block (1 allowed)
 */
public record KvLayout(int layers, int kvHeads, int headDim, DType dtype, int blockSize) {

    /** The default block size in tokens, as in vLLM and Quest. */
    public static final int DEFAULT_BLOCK_SIZE = 16;

    public KvLayout {
        requirePositive("layers", layers);
        requirePositive("kvHeads", kvHeads);
        requirePositive("headDim", headDim);
        requirePositive("blockSize", blockSize);
        if (dtype == null) {
            throw new IllegalArgumentException("dtype must not be null");
        }
    }

    /** Elements of K (or of V) for one token of one layer: {@code kvHeads * headDim}. */
    public int tokenWidth() {
        return kvHeads * headDim;
    }

    /** Bytes of K and V of one token in one layer. */
    public long bytesPerTokenPerLayer() {
        return 2L * tokenWidth() * dtype.bytes();
    }

    /** Bytes of one block: K and V of {@code blockSize} tokens of one layer. */
    public long blockBytes() {
        return blockSize * bytesPerTokenPerLayer();
    }

    /** Bytes of K (or of V) inside one block; V starts at this offset. */
    public long blockHalfBytes() {
        return (long) blockSize * tokenWidth() * dtype.bytes();
    }

    /** Blocks needed to hold {@code tokens} tokens of one layer. */
    public int blocksFor(int tokens) {
        if (tokens < 0) {
            throw new IllegalArgumentException("tokens must be >= 0, was " + tokens);
        }
        return (tokens + blockSize - 1) / blockSize;
    }

    private static void requirePositive(String name, int value) {
        if (value <= 0) {
            throw new IllegalArgumentException(name + " must be > 0, was " + value);
        }
    }
}

package io.tierkv.cuda.attention;

import io.tierkv.core.DType;
import io.tierkv.core.KvLayout;

/**
 * The geometry attention scores are computed over: {@code heads} query heads sharing {@code kvHeads}
 * key heads (grouped-query attention; query head {@code h} reads key head {@code h / (heads / kvHeads)}),
 * blocks of {@code blockSize} tokens, {@code blockBytes} apart in the pool, each holding its keys at its
 * start as {@code [blockSize][kvHeads][headDim]} f32 (the K half of {@link KvLayout}'s block).
 *
 * @param heads      query heads, a multiple of {@code kvHeads}
 * @param kvHeads    key heads
 * @param headDim    dimension of one head
 * @param blockSize  tokens per block
 * @param blockBytes bytes from one block to the next in the pool ({@code >=} the keys' bytes)
 * @param scale      multiplies every score before the softmax, usually {@code 1 / sqrt(headDim)}
 */
public record ScoreShape(int heads, int kvHeads, int headDim, int blockSize, long blockBytes, float scale) {

    public ScoreShape {
        if (heads <= 0 || kvHeads <= 0 || heads % kvHeads != 0) {
            throw new IllegalArgumentException("heads (" + heads + ") must be a positive multiple of kvHeads (" + kvHeads + ")");
        }
        if (headDim <= 0 || blockSize <= 0) {
            throw new IllegalArgumentException("headDim and blockSize must be > 0, were " + headDim + " and " + blockSize);
        }
        if (blockBytes < keyBytes(blockSize, kvHeads, headDim)) {
            throw new IllegalArgumentException("blockBytes " + blockBytes + " is smaller than the block's keys ("
                    + keyBytes(blockSize, kvHeads, headDim) + " bytes)");
        }
        if (!(scale > 0) || Float.isInfinite(scale)) {
            throw new IllegalArgumentException("scale must be finite and > 0, was " + scale);
        }
    }

    /** The shape of an f32 {@link KvLayout}'s blocks, with the usual {@code 1/sqrt(headDim)} scale. */
    public static ScoreShape of(KvLayout layout, int heads) {
        if (layout.dtype() != DType.F32) {
            throw new IllegalArgumentException("attention scores on blocks need an F32 KV cache, the layout is " + layout.dtype());
        }
        return new ScoreShape(heads, layout.kvHeads(), layout.headDim(), layout.blockSize(), layout.blockBytes(),
                (float) (1.0 / Math.sqrt(layout.headDim())));
    }

    /** Query heads per key head. */
    public int group() {
        return heads / kvHeads;
    }

    /** Blocks that hold {@code tokens} tokens. */
    public int blocksFor(int tokens) {
        return (tokens + blockSize - 1) / blockSize;
    }

    /** Byte offset in the pool of key head {@code g} of token {@code t}, given the block list. */
    public long keyOffset(int[] blocks, int t, int g) {
        return blocks[t / blockSize] * blockBytes + ((long) (t % blockSize) * kvHeads + g) * headDim * Float.BYTES;
    }

    private static long keyBytes(int blockSize, int kvHeads, int headDim) {
        return (long) blockSize * kvHeads * headDim * Float.BYTES;
    }

    /** Checks a call's arguments; throws naming the bad one. */
    void check(float[] q, long poolBytes, int[] blocks, int tokens, float[] probs, int probsStride) {
        checkInputs(q, poolBytes, blocks, tokens);
        if (probsStride < tokens || (long) (heads - 1) * probsStride + tokens > probs.length) {
            throw new IllegalArgumentException("probs of " + probs.length + " floats with stride " + probsStride
                    + " cannot hold " + heads + " rows of " + tokens);
        }
    }

    /** Checks the query, the block list and the token count; throws naming the bad one. */
    void checkInputs(float[] q, long poolBytes, int[] blocks, int tokens) {
        if (q.length < heads * headDim) {
            throw new IllegalArgumentException("q holds " + q.length + " floats, needs heads * headDim = " + heads * headDim);
        }
        if (tokens <= 0) {
            throw new IllegalArgumentException("tokens must be > 0, was " + tokens);
        }
        int used = blocksFor(tokens);
        if (blocks.length < used) {
            throw new IllegalArgumentException("blocks lists " + blocks.length + " blocks, " + tokens + " tokens need " + used);
        }
        for (int b = 0; b < used; b++) {
            if (blocks[b] < 0 || (blocks[b] + 1) * blockBytes > poolBytes) {
                throw new IllegalArgumentException("blocks[" + b + "] = " + blocks[b] + " is outside the pool of " + poolBytes + " bytes");
            }
        }
    }
}

package io.tierkv.cuda.ops;

/**
 * The geometry of a block digest ({@code digest.cu}, model's {@code BlockDigests}): per block of {@code blockSize}
 * tokens, the elementwise minimum and maximum key of each of {@code parts} sub-blocks and {@code kvHeads} KV heads of
 * {@code headDim}, as bfloat16 bits laid out {@code (2, parts, kvHeads, headDim)} (every minimum, then every maximum).
 *
 * @param kvHeads   KV heads
 * @param headDim   head dimension, a multiple of 8 (the bound kernel reads 16-byte vectors)
 * @param blockSize tokens per block
 * @param parts     sub-blocks per block, dividing {@code blockSize} (1: Quest's digest)
 */
public record DigestShape(int kvHeads, int headDim, int blockSize, int parts) {
    /** Checks every field; throws naming the one that is wrong. */
    public DigestShape {
        LaunchPlans.positive("kvHeads", kvHeads);
        LaunchPlans.positive("headDim", headDim);
        LaunchPlans.positive("blockSize", blockSize);
        LaunchPlans.positive("parts", parts);
        if (headDim % 8 != 0) {
            throw new IllegalArgumentException("digest headDim must be a multiple of 8 (16-byte rows), was " + headDim);
        }
        if (blockSize % parts != 0) {
            throw new IllegalArgumentException("digest parts must divide the block size " + blockSize + ", was " + parts);
        }
        if ((long) 2 * parts * kvHeads * headDim > Integer.MAX_VALUE / 2) {
            throw new IllegalArgumentException("a digest of " + parts + " parts x " + kvHeads + " KV heads x " + headDim + " is too large");
        }
    }

    /** 16-bit values per block's digest: {@code 2 parts kvHeads headDim}. */
    public int stride() {
        return 2 * parts * kvHeads * headDim;
    }

    /** Bytes of one block's digest. */
    public long bytesPerBlock() {
        return 2L * stride();
    }

    /** Values of one key row, {@code kvHeads headDim}. */
    public int row() {
        return kvHeads * headDim;
    }

    /** Rows (tokens) per part. */
    public int rowsPerPart() {
        return blockSize / parts;
    }
}

package io.tierkv.cuda.ops;

/**
 * The geometry of a block digest ({@code digest.cu}, model's {@code BlockDigests}), in one of two kinds:
 *
 * <ul>
 *   <li>{@code bits} 16 ({@code sketch} 0): per block of {@code blockSize} tokens, the elementwise minimum and maximum key
 *       of each of {@code parts} sub-blocks and {@code kvHeads} KV heads of {@code headDim}, as bfloat16 bits laid out
 *       {@code (2, parts, kvHeads, headDim)} (every minimum, then every maximum): {@link #stride()} 16-bit values.</li>
 *   <li>{@code bits} 8 or 4 with a sketch of {@code sketch} bits (1, 2 or 4; one part): one contiguous record of
 *       {@link #rawBytesPerBlock()} bytes, padded to {@link #bytesPerBlock()} (a multiple of 16):
 *       <ol>
 *         <li>{@code [0, 8 kvHeads)}: per KV head {@code kh} float32 {@code lo} then float32 {@code step} (little-endian;
 *             floats {@code 2 kh} and {@code 2 kh + 1});</li>
 *         <li>then {@link #boxCodeBytes()} bytes of box codes, value {@code i = (which kvHeads + kh) headDim + d}
 *             ({@code which} 0 the minimum, 1 the maximum): bits 8 byte {@code i}; bits 4 byte {@code i >> 1}, the low
 *             nibble for an even {@code i}, the high one for an odd {@code i};</li>
 *         <li>then {@link #sketchBytes()} bytes of sketch codes, value {@code i = (t kvHeads + kh) headDim + d} for token row
 *             {@code t} of the block, {@code 8 / sketch} codes to a byte, code {@code i} at bit {@code (i % (8 / sketch)) sketch};</li>
 *         <li>zero bytes up to {@link #bytesPerBlock()}.</li>
 *       </ol>
 *       The content of model's {@code BlockDigests} arrays ({@code steps}, {@code codes}, {@code sketchCodes}) for one part.</li>
 * </ul>
 *
 * @param kvHeads   KV heads
 * @param headDim   head dimension, a multiple of 8 (the bound kernel reads 16-byte vectors; sketch rows are whole bytes)
 * @param blockSize tokens per block
 * @param parts     sub-blocks per block, dividing {@code blockSize} (1: Quest's digest; codes need 1)
 * @param bits      bits per minimum and maximum: 16 (bfloat16), 8 or 4 (codes over an offset and step per KV head)
 * @param sketch    bits per sketch code of every key: 0 with bits 16; 1, 2 or 4 with codes (the device keeps codes only
 *                  with a sketch)
 */
public record DigestShape(int kvHeads, int headDim, int blockSize, int parts, int bits, int sketch) {
    /** Device alignment of one code digest (its floats, and 16-byte copies). */
    public static final int ALIGNMENT = 16;

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
        if (bits != 16 && bits != 8 && bits != 4) {
            throw new IllegalArgumentException("digest bits must be 16, 8 or 4, was " + bits);
        }
        if (bits == 16 && sketch != 0) {
            throw new IllegalArgumentException("a bfloat16 digest (bits 16) has no sketch on the device: sketch must be 0, was " + sketch);
        }
        if (bits != 16 && sketch != 1 && sketch != 2 && sketch != 4) {
            throw new IllegalArgumentException("digest codes (bits " + bits + ") are only supported with a sketch on the device:"
                    + " sketch must be 1, 2 or 4, was " + sketch);
        }
        if (bits != 16 && parts != 1) {
            throw new IllegalArgumentException("a digest sketch codes keys within the block's one box: parts must be 1, was " + parts);
        }
        if ((long) 2 * parts * kvHeads * headDim > Integer.MAX_VALUE / 2) {
            throw new IllegalArgumentException("a digest of " + parts + " parts x " + kvHeads + " KV heads x " + headDim + " is too large");
        }
        if (bits != 16 && (long) blockSize * kvHeads * headDim * sketch / 8 > Integer.MAX_VALUE / 4) {
            throw new IllegalArgumentException("a digest sketch of blockSize " + blockSize + " x " + kvHeads + " KV heads x " + headDim
                    + " x " + sketch + " bits is too large");
        }
    }

    /** A bfloat16 digest (bits 16, no sketch): the original geometry. */
    public DigestShape(int kvHeads, int headDim, int blockSize, int parts) {
        this(kvHeads, headDim, blockSize, parts, 16, 0);
    }

    /** True for a digest of codes with a sketch (bits 8 or 4), false for bfloat16 minima and maxima. */
    public boolean codes() {
        return bits != 16;
    }

    /**
     * 16-bit values per block's bfloat16 digest: {@code 2 parts kvHeads headDim}. Meaningful for bits 16 only.
     *
     * @throws IllegalStateException for a digest of codes (its size is {@link #bytesPerBlock()})
     */
    public int stride() {
        if (codes()) {
            throw new IllegalStateException("a digest of " + bits + "-bit codes has no 16-bit stride; use bytesPerBlock(): " + this);
        }
        return 2 * parts * kvHeads * headDim;
    }

    /**
     * Bytes of one block's digest on the device: {@code 2 stride()} for bits 16; for codes {@link #rawBytesPerBlock()}
     * rounded up to a multiple of {@value #ALIGNMENT}.
     */
    public long bytesPerBlock() {
        if (!codes()) {
            return 2L * stride();
        }
        long raw = rawBytesPerBlock();
        return (raw + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
    }

    /**
     * Bytes of one block's digest before padding: {@code 8 kvHeads + 2 kvHeads headDim bits / 8 + blockSize kvHeads headDim
     * sketch / 8} for codes, {@link #bytesPerBlock()} for bits 16; model's {@code BlockDigests.bytesPerBlock(kvHeads,
     * headDim, parts, bits, sketch, blockSize)}.
     */
    public long rawBytesPerBlock() {
        if (!codes()) {
            return bytesPerBlock();
        }
        return 8L * kvHeads + boxCodeBytes() + sketchBytes();
    }

    /** Bytes of a code digest's box codes, {@code 2 kvHeads headDim bits / 8} (0 for bits 16). */
    public long boxCodeBytes() {
        return codes() ? 2L * kvHeads * headDim * bits / 8 : 0;
    }

    /** Bytes of a code digest's sketch codes, {@code blockSize kvHeads headDim sketch / 8} (0 without a sketch). */
    public long sketchBytes() {
        return (long) blockSize * kvHeads * headDim * sketch / 8;
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

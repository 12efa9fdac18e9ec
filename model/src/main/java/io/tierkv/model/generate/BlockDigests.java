package io.tierkv.model.generate;

import io.tierkv.cuda.ops.DigestMirror;
import io.tierkv.model.llama.Tensors;
import java.util.Arrays;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;

/**
 * Quest's page digest, one per full KV block of one sequence: the elementwise minimum and maximum of the
 * block's keys (RoPE applied), per KV head. For a query {@code q} and KV head {@code h} no key of the block
 * can score more than {@code sum_d max(q_d * min_d, q_d * max_d)}: each term bounds {@code q_d * k_d} for any
 * {@code k_d} in {@code [min_d, max_d]}. The bound is tight when one key holds every extreme. Minima and maxima
 * are kept in bfloat16, rounded outward (a minimum down, a maximum up: {@link DigestMirror#bf16Down}, the same rounding
 * as the CUDA digest kernel's), so the bound stays a bound and loosens by
 * at most 2^-8 of each term; a digest of {@code parts} sub-blocks costs {@code 2 parts K d} 16-bit values per
 * block: with two parts, 1/B of a float32 block's KV (1/16 at 16-token blocks).
 *
 * <p>A digest is computed once, when its block fills (its keys are written on the device then, whatever
 * tier the block goes to later), and forgotten when the block is freed ({@link #retain}). It belongs to the
 * device tier: on the CPU backend the device arena is RAM and so are the digests (Java arrays, counted by
 * {@link #bytes()} and reported against the device budget); with the CUDA backend they would sit next to
 * the device arena, where the bound is computed.
 *
 * <p>With {@code bits} 8 or 4 ({@code --host-read digest:bits=8}) a digest is smaller: per part and KV head a float32
 * offset {@code lo} (the least minimum) and scale {@code (hi - lo) / (2^bits - 1)}, and per dimension a code for the
 * minimum rounded down and one for the maximum rounded up ({@code lo + code * scale}, computed in float32 the same
 * way when the digest is made and when it is read, is at most the minimum and at least the maximum): still a true
 * bound, looser by at most one step per term, in {@code parts K (8 + 2 d bits / 8)} bytes per block (8 bits, d = 32:
 * 56% of the bfloat16 digest; 4 bits: 31%).
 *
 * <p>With a sketch of {@code sketch} bits ({@code --host-read digest:sketch=2}, one part only) the digest also keeps every
 * key of the block, coded per dimension within the block's box: {@code c = round((k_d - min_d) / (max_d - min_d) (2^s - 1))},
 * read back as {@code min_d + c (max_d - min_d) / (2^s - 1)} (the box as stored, so each code is within half a step of
 * its key). {@link #score} then gives each query head's <em>estimated</em> best score in the block, the largest
 * {@code q . k'} over its coded keys {@code k'}, instead of the box's bound: not a bound (a key may score up to half a
 * step per term more) but a ranking by what the keys score rather than by what their box allows, which is what
 * choosing the few host blocks to read needs. It costs {@code B K d s / 8} more bytes per block (2 bits, B = 16,
 * d = 32: 128 bytes per KV head, 3.1% of the head's float32 KV).
 *
 * <p>Layout per layer: {@code (block, 2, parts, K, d)} values, minima then maxima: bfloat16 bits, or packed codes with
 * {@code (block, parts, K, 2)} offsets and scales; sketch codes {@code (block, B, K, d)} packed {@code 8 / s} to a byte.
 */
public final class BlockDigests {
    private final int layers;
    private final int kvHeads;
    private final int headDim;
    private final int blockSize;
    /** Sub-blocks per block, each with its own minimum and maximum (1: Quest's digest). */
    private final int parts;
    /** Bits per value: 16 (bfloat16), 8 or 4 (codes). */
    private final int bits;
    /** (layer) (block, 2, parts, K, d) bfloat16 minimum and maximum keys, rounded outward; null with codes. */
    private short[][] minMax;
    /** (layer) (block, 2, parts, K, d) codes packed {@code 8 / bits} to a byte; null with bfloat16. */
    private byte[][] codes;
    /** (layer) (block, parts, K, 2) float32 offset and scale of the codes; null with bfloat16. */
    private float[][] steps;
    /** (2, parts, K, d) one block's float32 extremes before rounding, reused. */
    private final float[] scratch;
    /** (layer, block) true while the block is full and live. */
    private boolean[][] present;
    private int live;
    private int peak;
    /** Bits per sketch code, 0 without a sketch. */
    private final int sketch;
    /** (layer) (block, B, K, d) sketch codes packed {@code 8 / sketch} to a byte; null without a sketch. */
    private byte[][] sketchCodes;
    /** (B, K, d) one block's keys while its sketch is coded, reused; null without a sketch. */
    private final float[] keys;
    /** (d) one KV head's box minimum and step, read back while estimating. */
    private final float[] floor;
    private final float[] step;
    /** (d) one query head's weight per code while estimating. */
    private final float[] weight;

    public BlockDigests(int layers, int kvHeads, int headDim, int blockSize) {
        this(layers, kvHeads, headDim, blockSize, 1);
    }

    /**
     * @param parts sub-blocks per block ({@code blockSize} must be a multiple): a block's bound is the largest of
     *              its sub-blocks' bounds, tighter than one box over the whole block, at {@code parts} times the memory
     */
    public BlockDigests(int layers, int kvHeads, int headDim, int blockSize, int parts) {
        this(layers, kvHeads, headDim, blockSize, parts, 16);
    }

    /**
     * @param bits bits per minimum and maximum: 16 (bfloat16), 8 or 4 (codes over an offset and scale per part and KV head)
     */
    public BlockDigests(int layers, int kvHeads, int headDim, int blockSize, int parts, int bits) {
        this(layers, kvHeads, headDim, blockSize, parts, bits, 0);
    }

    /**
     * @param sketch bits per sketch code (1, 2 or 4; {@code parts} must be 1), or 0 for the box alone
     */
    public BlockDigests(int layers, int kvHeads, int headDim, int blockSize, int parts, int bits, int sketch) {
        if (sketch != 0 && sketch != 1 && sketch != 2 && sketch != 4) {
            throw new IllegalArgumentException("digest sketch must be 1, 2 or 4 bits (or 0 for none), was " + sketch);
        }
        if (sketch != 0 && parts != 1) {
            throw new IllegalArgumentException("a digest sketch codes keys within the block's one box: parts must be 1, was " + parts);
        }
        if (parts < 1 || blockSize % parts != 0) {
            throw new IllegalArgumentException("digest parts must divide the block size " + blockSize + ", was " + parts);
        }
        if (bits != 16 && bits != 8 && bits != 4) {
            throw new IllegalArgumentException("digest bits must be 16, 8 or 4, was " + bits);
        }
        this.bits = bits;
        this.parts = parts;
        this.layers = layers;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.blockSize = blockSize;
        if (bits == 16) {
            this.minMax = new short[layers][16 * stride()];
        } else {
            this.codes = new byte[layers][16 * codeBytes()];
            this.steps = new float[layers][16 * 2 * parts * kvHeads];
        }
        this.scratch = new float[stride()];
        this.present = new boolean[layers][16];
        this.sketch = sketch;
        this.keys = sketch == 0 ? null : new float[blockSize * kvHeads * headDim];
        this.sketchCodes = sketch == 0 ? null : new byte[layers][16 * sketchBytes()];
        this.floor = new float[headDim];
        this.step = new float[headDim];
        this.weight = new float[headDim];
    }

    /** Bytes of one block's sketch codes. */
    private int sketchBytes() {
        return blockSize * kvHeads * headDim * sketch / 8;
    }

    /** Values per block's digest: minimum and maximum per part and KV head. */
    public int stride() {
        return 2 * parts * kvHeads * headDim;
    }

    /** Bytes of one block's packed codes. */
    private int codeBytes() {
        return stride() * bits / 8;
    }

    /** Bytes of one block's digest. */
    public long bytesPerBlock() {
        return bytesPerBlock(kvHeads, headDim, parts, bits) + sketchBytes();
    }

    /** Bytes of one block's digest with a sketch of {@code sketch} bits per key dimension over {@code blockSize} keys. */
    public static long bytesPerBlock(int kvHeads, int headDim, int parts, int bits, int sketch, int blockSize) {
        return bytesPerBlock(kvHeads, headDim, parts, bits) + (long) blockSize * kvHeads * headDim * sketch / 8;
    }

    /** Bytes of one block's bfloat16 digest for a model with {@code kvHeads} heads of {@code headDim}, in {@code parts}. */
    public static long bytesPerBlock(int kvHeads, int headDim, int parts) {
        return bytesPerBlock(kvHeads, headDim, parts, 16);
    }

    /**
     * Bytes of one block's digest of {@code bits} per value: {@code 2 parts K d} bfloat16 values, or per part and KV head
     * a float32 offset and scale and {@code 2 d} codes of {@code bits}.
     */
    public static long bytesPerBlock(int kvHeads, int headDim, int parts, int bits) {
        long values = 2L * parts * kvHeads * headDim;
        return bits == 16 ? 2 * values : values * bits / 8 + 8L * parts * kvHeads;
    }

    /** Bytes the live digests hold now. */
    public long bytes() {
        return live * bytesPerBlock();
    }

    /** The most bytes the live digests held at once. */
    public long peakBytes() {
        return peak * bytesPerBlock();
    }

    /** Live digests over all layers. */
    public int count() {
        return live;
    }

    /** True while {@code block} of {@code layer} has a digest. */
    public boolean has(int layer, int block) {
        return block < present[layer].length && present[layer][block];
    }

    /**
     * Computes the digest of a block that just filled from its keys, {@code (B, K, d)} float32 at
     * {@code keyAddress} (the device slot it was written to).
     */
    public void update(int layer, int block, long keyAddress) {
        ensure(block);
        try (PointerScope scope = new PointerScope()) {
            Tensor k = Tensors.floatView(keyAddress, parts, blockSize / parts, (long) kvHeads * headDim);
            Tensors.copyInto(k.amin(new long[] {1}, false).contiguous(), scratch, 0);
            Tensors.copyInto(k.amax(new long[] {1}, false).contiguous(), scratch, stride() / 2);
        }
        if (bits == 16) {
            short[] mm = minMax[layer];
            int base = block * stride();
            int half = stride() / 2;
            for (int i = 0; i < half; i++) {
                mm[base + i] = DigestMirror.bf16Down(scratch[i]);
                mm[base + half + i] = DigestMirror.bf16Up(scratch[half + i]);
            }
        } else {
            encode(layer, block);
        }
        if (sketch > 0) {
            codeKeys(layer, block, keyAddress);
        }
        if (!present[layer][block]) {
            present[layer][block] = true;
            live++;
            peak = Math.max(peak, live);
        }
    }

    /** Codes the block's keys at {@code keyAddress} within its stored box, {@link #sketch} bits per dimension. */
    private void codeKeys(int layer, int block, long keyAddress) {
        try (PointerScope scope = new PointerScope()) {
            Tensors.copyInto(Tensors.floatView(keyAddress, (long) blockSize * kvHeads * headDim), keys, 0);
        }
        int levels = (1 << sketch) - 1;
        byte[] out = sketchCodes[layer];
        int base = block * sketchBytes();
        java.util.Arrays.fill(out, base, base + sketchBytes(), (byte) 0);
        for (int kh = 0; kh < kvHeads; kh++) {
            boxSteps(layer, block, kh, levels);
            for (int t = 0; t < blockSize; t++) {
                int row = (t * kvHeads + kh) * headDim;
                for (int d = 0; d < headDim; d++) {
                    int c = step[d] > 0 ? (int) Math.rint((keys[row + d] - floor[d]) / step[d]) : 0;
                    c = Math.max(0, Math.min(levels, c));
                    int i = row + d;
                    int perByte = 8 / sketch;
                    out[base + i / perByte] |= (byte) (c << ((i % perByte) * sketch));
                }
            }
        }
    }

    /** KV head {@code kh}'s stored box minimum and the sketch's step per dimension into {@link #floor} and {@link #step}. */
    private void boxSteps(int layer, int block, int kh, int levels) {
        for (int d = 0; d < headDim; d++) {
            floor[d] = value(layer, block, 0, 0, kh, d);
            step[d] = (value(layer, block, 1, 0, kh, d) - floor[d]) / levels;
        }
    }

    /** Bits per sketch code, 0 without a sketch. */
    public int sketch() {
        return sketch;
    }

    /**
     * Each query head's score of one block for ranking the host blocks: with a sketch its estimated best score (the
     * largest {@code scale q . k'} over the block's coded keys), else the box's {@link #bound}.
     *
     * @param q (H, d) float32 one query, row-major
     */
    public void score(int layer, int block, float[] q, int heads, float scale, float[] out) {
        if (sketch == 0) {
            bound(layer, block, q, heads, scale, out);
            return;
        }
        int group = heads / kvHeads;
        int levels = (1 << sketch) - 1;
        int mask = levels;
        int perByte = 8 / sketch;
        byte[] codes = sketchCodes[layer];
        int base = block * sketchBytes();
        float[] w = weight;
        for (int kh = 0; kh < kvHeads; kh++) {
            boxSteps(layer, block, kh, levels);
            for (int h = kh * group; h < (kh + 1) * group; h++) {
                int qo = h * headDim;
                float offset = 0;
                for (int d = 0; d < headDim; d++) {
                    offset += q[qo + d] * floor[d];
                    w[d] = q[qo + d] * step[d];
                }
                float best = Float.NEGATIVE_INFINITY;
                for (int t = 0; t < blockSize; t++) {
                    int row = (t * kvHeads + kh) * headDim;
                    float s = 0;
                    if (headDim % perByte == 0) { // whole bytes per row: unpack a byte at a time
                        int at = base + row / perByte;
                        for (int d = 0; d < headDim; d += perByte) {
                            int b = codes[at++];
                            for (int j = 0; j < perByte; j++, b >>= sketch) {
                                s += w[d + j] * (b & mask);
                            }
                        }
                    } else {
                        for (int d = 0; d < headDim; d++) {
                            int i = row + d;
                            s += w[d] * ((codes[base + i / perByte] >> ((i % perByte) * sketch)) & mask);
                        }
                    }
                    best = Math.max(best, s);
                }
                out[h] = (offset + best) * scale;
            }
        }
    }

    /** Forgets the digests of {@code layer}'s blocks that are not live any more ({@code liveBlocks} lists the live ones). */
    public void retain(int layer, int[] liveBlocks, int liveCount, int[] otherBlocks, int otherCount) {
        boolean[] p = present[layer];
        boolean[] keep = new boolean[p.length];
        mark(keep, liveBlocks, liveCount);
        mark(keep, otherBlocks, otherCount);
        for (int b = 0; b < p.length; b++) {
            if (p[b] && !keep[b]) {
                p[b] = false;
                live--;
            }
        }
    }

    private static void mark(boolean[] keep, int[] blocks, int count) {
        for (int i = 0; i < count; i++) {
            if (blocks[i] < keep.length) {
                keep[blocks[i]] = true;
            }
        }
    }

    /** Codes of the extremes in {@code scratch} for {@code block}: minima rounded down, maxima up, per part and KV head. */
    private void encode(int layer, int block) {
        int levels = (1 << bits) - 1;
        int half = stride() / 2;
        float[] st = steps[layer];
        for (int g = 0; g < parts * kvHeads; g++) {
            int row = g * headDim;
            float lo = Float.POSITIVE_INFINITY;
            float hi = Float.NEGATIVE_INFINITY;
            for (int d = 0; d < headDim; d++) {
                lo = Math.min(lo, scratch[row + d]);
                hi = Math.max(hi, scratch[half + row + d]);
            }
            float step = (hi - lo) / levels;
            if (!(step > 0) || Float.isInfinite(step)) {
                step = hi > lo ? Float.MAX_VALUE / levels : 1f;
            }
            while (lo + levels * step < hi) {
                step = Math.nextUp(step);
            }
            st[(block * parts * kvHeads + g) * 2] = lo;
            st[(block * parts * kvHeads + g) * 2 + 1] = step;
            for (int d = 0; d < headDim; d++) {
                float mn = scratch[row + d];
                int c = (int) Math.max(0, Math.min(levels, Math.floor((mn - lo) / step)));
                while (c > 0 && lo + c * step > mn) {
                    c--;
                }
                putCode(layer, block, row + d, c);
                float mx = scratch[half + row + d];
                c = (int) Math.max(0, Math.min(levels, Math.ceil((mx - lo) / step)));
                while (c < levels && lo + c * step < mx) {
                    c++;
                }
                putCode(layer, block, half + row + d, c);
            }
        }
    }

    private void putCode(int layer, int block, int i, int code) {
        byte[] b = codes[layer];
        int base = block * codeBytes();
        if (bits == 8) {
            b[base + i] = (byte) code;
        } else {
            int shift = (i & 1) * 4;
            b[base + (i >> 1)] = (byte) ((b[base + (i >> 1)] & ~(0xF << shift)) | (code << shift));
        }
    }

    private int code(byte[] b, int base, int i) {
        return bits == 8 ? b[base + i] & 0xFF : (b[base + (i >> 1)] >> ((i & 1) * 4)) & 0xF;
    }

    /**
     * The stored minimum ({@code which} 0) or maximum (1) of dimension {@code d} of KV head {@code kh} in part {@code p}
     * of {@code block}, as the bound reads it (rounded outward).
     */
    float value(int layer, int block, int which, int p, int kh, int d) {
        int i = ((which * parts + p) * kvHeads + kh) * headDim + d;
        if (bits == 16) {
            return DigestMirror.bf16(minMax[layer][block * stride() + i]);
        }
        int g = (block * parts + p) * kvHeads + kh;
        float lo = steps[layer][2 * g];
        float step = steps[layer][2 * g + 1];
        return lo + code(codes[layer], block * codeBytes(), i) * step;
    }

    /**
     * The bound of every query head's score for one block: {@code out[h] = scale * sum_d max(q_d min_d, q_d max_d)}
     * over the block's KV head {@code h / G}.
     *
     * @param q (H, d) float32 one query, row-major
     */
    public void bound(int layer, int block, float[] q, int heads, float scale, float[] out) {
        int group = heads / kvHeads;
        if (bits != 16) {
            boundCodes(layer, block, q, heads, group, scale, out);
            return;
        }
        short[] mm = minMax[layer];
        int half = stride() / 2;
        int row = kvHeads * headDim;
        for (int h = 0; h < heads; h++) {
            int kh = h / group;
            int qo = h * headDim;
            float best = Float.NEGATIVE_INFINITY;
            for (int p = 0; p < parts; p++) {
                int lo = block * stride() + p * row + kh * headDim;
                int hi = lo + half;
                float s = 0;
                for (int d = 0; d < headDim; d++) {
                    float qd = q[qo + d];
                    s += Math.max(qd * DigestMirror.bf16(mm[lo + d]), qd * DigestMirror.bf16(mm[hi + d]));
                }
                best = Math.max(best, s);
            }
            out[h] = best * scale;
        }
    }

    private void boundCodes(int layer, int block, float[] q, int heads, int group, float scale, float[] out) {
        byte[] b = codes[layer];
        float[] st = steps[layer];
        int base = block * codeBytes();
        int half = stride() / 2;
        int row = kvHeads * headDim;
        for (int h = 0; h < heads; h++) {
            int kh = h / group;
            int qo = h * headDim;
            float best = Float.NEGATIVE_INFINITY;
            for (int p = 0; p < parts; p++) {
                int g = (block * parts + p) * kvHeads + kh;
                float lo = st[2 * g];
                float step = st[2 * g + 1];
                int i0 = p * row + kh * headDim;
                float s = 0;
                for (int d = 0; d < headDim; d++) {
                    float qd = q[qo + d];
                    float mn = lo + code(b, base, i0 + d) * step;
                    float mx = lo + code(b, base, half + i0 + d) * step;
                    s += Math.max(qd * mn, qd * mx);
                }
                best = Math.max(best, s);
            }
            out[h] = best * scale;
        }
    }

    private void ensure(int block) {
        if (block >= present[0].length) {
            int n = Math.max(block + 1, present[0].length * 2);
            for (int l = 0; l < layers; l++) {
                present[l] = Arrays.copyOf(present[l], n);
                if (sketch > 0) {
                    sketchCodes[l] = Arrays.copyOf(sketchCodes[l], n * sketchBytes());
                }
                if (bits == 16) {
                    minMax[l] = Arrays.copyOf(minMax[l], n * stride());
                } else {
                    codes[l] = Arrays.copyOf(codes[l], n * codeBytes());
                    steps[l] = Arrays.copyOf(steps[l], n * 2 * parts * kvHeads);
                }
            }
        }
    }
}

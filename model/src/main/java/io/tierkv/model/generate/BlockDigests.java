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
 * <p>Layout per layer: {@code (block, 2, parts, K, d)} bfloat16 bits, minima then maxima.
 */
public final class BlockDigests {
    private final int layers;
    private final int kvHeads;
    private final int headDim;
    private final int blockSize;
    /** Sub-blocks per block, each with its own minimum and maximum (1: Quest's digest). */
    private final int parts;
    /** (layer) (block, 2, parts, K, d) bfloat16 minimum and maximum keys, rounded outward. */
    private short[][] minMax;
    /** (2, parts, K, d) one block's float32 extremes before rounding, reused. */
    private final float[] scratch;
    /** (layer, block) true while the block is full and live. */
    private boolean[][] present;
    private int live;
    private int peak;

    public BlockDigests(int layers, int kvHeads, int headDim, int blockSize) {
        this(layers, kvHeads, headDim, blockSize, 1);
    }

    /**
     * @param parts sub-blocks per block ({@code blockSize} must be a multiple): a block's bound is the largest of
     *              its sub-blocks' bounds, tighter than one box over the whole block, at {@code parts} times the memory
     */
    public BlockDigests(int layers, int kvHeads, int headDim, int blockSize, int parts) {
        if (parts < 1 || blockSize % parts != 0) {
            throw new IllegalArgumentException("digest parts must divide the block size " + blockSize + ", was " + parts);
        }
        this.parts = parts;
        this.layers = layers;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.blockSize = blockSize;
        this.minMax = new short[layers][16 * stride()];
        this.scratch = new float[stride()];
        this.present = new boolean[layers][16];
    }

    /** Values per block's digest: minimum and maximum per part and KV head. */
    public int stride() {
        return 2 * parts * kvHeads * headDim;
    }

    /** Bytes of one block's digest. */
    public long bytesPerBlock() {
        return 2L * stride();
    }

    /** Bytes of one block's digest for a model with {@code kvHeads} heads of {@code headDim}, in {@code parts}. */
    public static long bytesPerBlock(int kvHeads, int headDim, int parts) {
        return 2L * 2 * parts * kvHeads * headDim;
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
        short[] mm = minMax[layer];
        int base = block * stride();
        int half = stride() / 2;
        for (int i = 0; i < half; i++) {
            mm[base + i] = DigestMirror.bf16Down(scratch[i]);
            mm[base + half + i] = DigestMirror.bf16Up(scratch[half + i]);
        }
        if (!present[layer][block]) {
            present[layer][block] = true;
            live++;
            peak = Math.max(peak, live);
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

    /**
     * The bound of every query head's score for one block: {@code out[h] = scale * sum_d max(q_d min_d, q_d max_d)}
     * over the block's KV head {@code h / G}.
     *
     * @param q (H, d) float32 one query, row-major
     */
    public void bound(int layer, int block, float[] q, int heads, float scale, float[] out) {
        short[] mm = minMax[layer];
        int group = heads / kvHeads;
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

    private void ensure(int block) {
        if (block >= present[0].length) {
            int n = Math.max(block + 1, present[0].length * 2);
            for (int l = 0; l < layers; l++) {
                present[l] = Arrays.copyOf(present[l], n);
                minMax[l] = Arrays.copyOf(minMax[l], n * stride());
            }
        }
    }
}

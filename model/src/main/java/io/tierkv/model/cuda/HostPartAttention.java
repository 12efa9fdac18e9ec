package io.tierkv.model.cuda;

import io.tierkv.cuda.ops.HalfFloats;
import io.tierkv.cuda.ops.PagedKvShape;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * The paged attention kernel's contract over one part, computed on the CPU where the part lies ({@link HostAttention#CPU}):
 * the host tier's pinned slab is read in place through its host address, so no key or value crosses PCIe; only the query
 * comes down and the part's output and log-sum-exp go up to be merged on the device. fp32 dot products, double sums; each
 * key and value row is decoded once for its KV head's query heads. One thread, scratch arrays reused: one instance per store.
 */
final class HostPartAttention {
    private final PagedKvShape shape;
    private final int group;
    private final float[] row;      // (headDim) one key or value row, decoded
    private final UnsafeBuffer rowView = new UnsafeBuffer(new byte[0]); // over the row being decoded, where it lies
    private final float[] max;      // (heads) each head's largest score
    private final double[] sum;     // (heads) each head's softmax denominator
    private final double[] acc;     // (heads, headDim) each head's weighted values
    private float[] scores = new float[0]; // (heads, entries x blockSize), grown on demand

    HostPartAttention(PagedKvShape shape) {
        this.shape = shape;
        this.group = shape.heads() / shape.kvHeads();
        this.row = new float[shape.headDim()];
        this.max = new float[shape.heads()];
        this.sum = new double[shape.heads()];
        this.acc = new double[shape.heads() * shape.headDim()];
    }

    /**
     * Attention of {@code q [heads][headDim]} over list entries {@code 0 .. n - 1} of the slab at host address
     * {@code slab}: {@code out [heads][headDim]} and {@code lse [heads]} ({@code -inf} and zeros for a head with no live
     * row). {@code validRows}, {@code mask} ({@code [n][blockSize]}, non-zero = evicted) and {@code headMask}
     * ({@code [n][kvHeads]}, 0 = the entry is left out for that KV head's query heads) may be null.
     *
     * @throws IllegalArgumentException for a slot outside the slab
     */
    void attend(float[] q, long slab, long slabBytes, int[] slots, int[] validRows, byte[] mask, byte[] headMask, int n, float scale,
                float[] out, float[] lse) {
        checkSlots(slabBytes, slots, n);
        int bs = shape.blockSize();
        int hd = shape.headDim();
        int heads = shape.heads();
        int rows = n * bs;
        if (scores.length < heads * rows) {
            scores = new float[heads * rows];
        }
        java.util.Arrays.fill(scores, 0, heads * rows, Float.NEGATIVE_INFINITY);
        java.util.Arrays.fill(max, Float.NEGATIVE_INFINITY);
        for (int i = 0; i < n; i++) { // each key row decoded once, scored by its KV head's query heads
            for (int g = 0; g < shape.kvHeads(); g++) {
                int live = live(i, g, validRows, headMask);
                for (int r = 0; r < live; r++) {
                    if (mask != null && mask[i * bs + r] != 0) {
                        continue;
                    }
                    decode(slab + keyOffset(slots[i], r, g));
                    for (int h = g * group; h < (g + 1) * group; h++) {
                        float sc = scale * dot(q, h);
                        scores[h * rows + i * bs + r] = sc;
                        max[h] = Math.max(max[h], sc);
                    }
                }
            }
        }
        java.util.Arrays.fill(acc, 0);
        java.util.Arrays.fill(sum, 0);
        for (int i = 0; i < n; i++) { // each value row decoded once, weighted into its query heads
            for (int g = 0; g < shape.kvHeads(); g++) {
                int live = live(i, g, validRows, headMask);
                for (int r = 0; r < live; r++) {
                    if (mask != null && mask[i * bs + r] != 0) {
                        continue;
                    }
                    decode(slab + keyOffset(slots[i], r, g) + shape.halfBytes());
                    for (int h = g * group; h < (g + 1) * group; h++) {
                        double p = Math.exp(scores[h * rows + i * bs + r] - max[h]);
                        sum[h] += p;
                        for (int d = 0; d < hd; d++) {
                            acc[h * hd + d] += p * row[d];
                        }
                    }
                }
            }
        }
        for (int h = 0; h < heads; h++) {
            if (max[h] == Float.NEGATIVE_INFINITY) {
                java.util.Arrays.fill(out, h * hd, (h + 1) * hd, 0f);
                lse[h] = Float.NEGATIVE_INFINITY;
                continue;
            }
            for (int d = 0; d < hd; d++) {
                out[h * hd + d] = (float) (acc[h * hd + d] / sum[h]);
            }
            lse[h] = (float) (max[h] + Math.log(sum[h]));
        }
    }

    /**
     * The popularity probabilities of the same entries by token position, as {@code CudaPagedProbs}:
     * {@code probs[h * stride + blocks[i] * blockSize + r] = exp(scale q_h . k - lse_h)} for every live row whose position
     * is below {@code stride}; the rest of {@code probs} is left as it is.
     */
    void probs(float[] q, long slab, long slabBytes, int[] slots, int[] validRows, byte[] mask, byte[] headMask, int[] blocks, int n,
               float scale, float[] lse, float[] probs, int stride) {
        checkSlots(slabBytes, slots, n);
        int bs = shape.blockSize();
        for (int i = 0; i < n; i++) {
            for (int g = 0; g < shape.kvHeads(); g++) {
                int live = live(i, g, validRows, headMask);
                for (int r = 0; r < live; r++) {
                    long token = (long) blocks[i] * bs + r;
                    if ((mask != null && mask[i * bs + r] != 0) || token < 0 || token >= stride) {
                        continue;
                    }
                    decode(slab + keyOffset(slots[i], r, g));
                    for (int h = g * group; h < (g + 1) * group; h++) {
                        probs[(int) (h * (long) stride + token)] = (float) Math.exp(scale * dot(q, h) - lse[h]);
                    }
                }
            }
        }
    }

    /** Rows of entry i that KV head g reads: its valid rows, or none where the head mask leaves it out. */
    private int live(int i, int g, int[] validRows, byte[] headMask) {
        if (headMask != null && headMask[i * shape.kvHeads() + g] == 0) {
            return 0;
        }
        return validRows == null ? shape.blockSize() : Math.min(shape.blockSize(), validRows[i]);
    }

    /**
     * Every listed slot checked to lie inside the slab of {@code bytes}: rows are then read at 64-bit addresses, one row at a
     * time, so a host slab may be any size (a large model's host tier passes 2 GiB).
     */
    private void checkSlots(long bytes, int[] slots, int n) {
        for (int i = 0; i < n; i++) {
            if (slots[i] < 0 || (slots[i] + 1L) * shape.slotBytes() > bytes) {
                throw new IllegalArgumentException("slot " + slots[i] + " of entry " + i + " is outside the " + bytes + "-byte slab");
            }
        }
    }

    private long keyOffset(int slot, int r, int g) {
        return slot * shape.slotBytes() + shape.element(r, g, 0) * shape.dtype().bytes();
    }

    /**
     * {@code q_h . k} with k the row {@link #decode} left in {@link #row}: fp32 fused multiply-adds in four interleaved
     * partial sums (a single chain would wait on each add's latency; the kernels' order differs from both anyway).
     */
    private float dot(float[] q, int h) {
        int hd = shape.headDim();
        int at = h * hd;
        float s0 = 0f;
        float s1 = 0f;
        float s2 = 0f;
        float s3 = 0f;
        int d = 0;
        for (; d + 3 < hd; d += 4) {
            s0 = Math.fma(q[at + d], row[d], s0);
            s1 = Math.fma(q[at + d + 1], row[d + 1], s1);
            s2 = Math.fma(q[at + d + 2], row[d + 2], s2);
            s3 = Math.fma(q[at + d + 3], row[d + 3], s3);
        }
        for (; d < hd; d++) {
            s0 = Math.fma(q[at + d], row[d], s0);
        }
        return (s0 + s1) + (s2 + s3);
    }

    /** The headDim elements at native {@code address} into {@link #row}. */
    private void decode(long address) {
        int hd = shape.headDim();
        UnsafeBuffer kv = rowView;
        kv.wrap(address, hd * shape.dtype().bytes());
        int at = 0;
        switch (shape.dtype()) {
            case F32 -> {
                for (int d = 0; d < hd; d++) {
                    row[d] = kv.getFloat(at + 4 * d);
                }
            }
            case F16 -> {
                for (int d = 0; d < hd; d++) {
                    row[d] = HalfFloats.fromF16(kv.getShort(at + 2 * d));
                }
            }
            case BF16 -> {
                for (int d = 0; d < hd; d++) {
                    row[d] = HalfFloats.fromBf16(kv.getShort(at + 2 * d));
                }
            }
            default -> throw new IllegalStateException("KV blocks of " + shape.dtype() + " have no CPU attention");
        }
    }
}

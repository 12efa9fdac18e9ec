package io.tierkv.cuda.ops;

/**
 * {@code digest.cu} step for step in Java (torch-free): the same bfloat16 outward rounding, the same order of the
 * minimum/maximum scan over a part's rows, the same fp32 sum over {@code d} in order, the same treatment of slots and
 * digest indexes out of range. On the CPU it is the digests' implementation; in the {@code gpu} test it is the
 * oracle the kernels must match bit for bit (digests) and to float rounding (bounds). The rank of
 * {@link #rank} is what the host does with the kernel's bounds (model's {@code HostBlockSelector}).
 */
public final class DigestMirror {
    private DigestMirror() {
    }

    /** The float a bfloat16's bits stand for. */
    public static float bf16(short bits) {
        return Float.intBitsToFloat(bits << 16);
    }

    /** The largest bfloat16 not above {@code x} (finite {@code x}). */
    public static short bf16Down(float x) {
        int bits = Float.floatToRawIntBits(x);
        boolean inexact = (bits & 0xFFFF) != 0;
        // truncation rounds toward zero: down for a positive x, up for a negative one (then one ulp further out)
        return (short) ((bits >>> 16) + (inexact && x < 0 ? 1 : 0));
    }

    /** The smallest bfloat16 not below {@code x} (finite {@code x}). */
    public static short bf16Up(float x) {
        int bits = Float.floatToRawIntBits(x);
        boolean inexact = (bits & 0xFFFF) != 0;
        return (short) ((bits >>> 16) + (inexact && x > 0 ? 1 : 0));
    }

    /**
     * {@code digest_update_<dtype>}: the digests of list entries {@code 0 .. n - 1}.
     *
     * @param slab          the slab's elements as floats (already what the KV dtype holds)
     * @param slotElements  elements from one slot to the next ({@code slotBytes / elemBytes})
     * @param keyOffset     elements from a slot's start to its K half (0 in tiering's layout)
     * @param capacity      slots in the slab: entries with a slot outside {@code [0, capacity)} are skipped
     * @param digests       {@code (digestCapacity, 2, parts, kvHeads, headDim)} bfloat16 bits, written in place;
     *                      entries with a digest index outside {@code [0, digestCapacity)} are skipped
     */
    public static void update(DigestShape s, float[] slab, long slotElements, long keyOffset, int capacity, int[] slots,
                              int[] digestIndexes, int n, short[] digests) {
        int digestCapacity = digests.length / s.stride();
        int row = s.row();
        int rows = s.rowsPerPart();
        for (int b = 0; b < n; b++) {
            int slot = slots[b];
            int index = digestIndexes[b];
            if (slot < 0 || slot >= capacity || index < 0 || index >= digestCapacity) {
                continue;
            }
            long keys = slot * slotElements + keyOffset;
            for (int p = 0; p < s.parts(); p++) {
                long first = keys + (long) p * rows * row;
                int lo = index * s.stride() + p * row;
                int hi = lo + s.parts() * row;
                for (int e = 0; e < row; e++) {
                    float mn = slab[(int) (first + e)];
                    float mx = mn;
                    for (int r = 1; r < rows; r++) {
                        float v = slab[(int) (first + (long) r * row + e)];
                        mn = v < mn ? v : mn;
                        mx = v > mx ? v : mx;
                    }
                    digests[lo + e] = bf16Down(mn);
                    digests[hi + e] = bf16Up(mx);
                }
            }
        }
    }

    /**
     * {@code digest_bound}: {@code out[b * heads + h]} for list entries {@code 0 .. n - 1}; {@code +inf} for an entry
     * whose digest index is outside {@code [0, digestCapacity)}.
     *
     * @param q (heads, headDim) float32, one query
     */
    public static void bound(DigestShape s, float[] q, int heads, float scale, short[] digests, int[] digestIndexes, int n, float[] out) {
        int digestCapacity = digests.length / s.stride();
        int group = heads / s.kvHeads();
        int row = s.row();
        int d = s.headDim();
        for (int b = 0; b < n; b++) {
            int index = digestIndexes[b];
            for (int h = 0; h < heads; h++) {
                int i = b * heads + h;
                if (index < 0 || index >= digestCapacity) {
                    out[i] = Float.POSITIVE_INFINITY;
                    continue;
                }
                int base = index * s.stride() + (h / group) * d;
                float best = Float.NEGATIVE_INFINITY;
                for (int p = 0; p < s.parts(); p++) {
                    int lo = base + p * row;
                    int hi = base + (s.parts() + p) * row;
                    float sum = 0f;
                    for (int j = 0; j < d; j++) {
                        float qj = q[h * d + j];
                        float a = qj * bf16(digests[lo + j]);
                        float z = qj * bf16(digests[hi + j]);
                        sum += a > z ? a : z;
                    }
                    best = sum > best ? sum : best;
                }
                out[i] = best * scale;
            }
        }
    }

    /**
     * The host's rank of each listed block from its bounds ({@code (n, heads)}): {@code sum_h exp(bound_h - best_h)},
     * {@code best_h} the largest bound of head {@code h} over the {@code n} blocks; {@code +inf} for a block with an
     * infinite bound (no digest: it must be read). The top blocks by rank are the ones to read.
     */
    public static void rank(float[] bounds, int n, int heads, float[] rank) {
        float[] best = new float[heads];
        java.util.Arrays.fill(best, Float.NEGATIVE_INFINITY);
        for (int i = 0; i < n; i++) {
            for (int h = 0; h < heads; h++) {
                best[h] = Math.max(best[h], bounds[i * heads + h]);
            }
        }
        for (int i = 0; i < n; i++) {
            float r = 0;
            for (int h = 0; h < heads; h++) {
                float v = bounds[i * heads + h];
                r += v == Float.POSITIVE_INFINITY ? Float.POSITIVE_INFINITY : (float) Math.exp(v - best[h]);
            }
            rank[i] = r;
        }
    }
}

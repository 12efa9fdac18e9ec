package io.tierkv.cuda.ops;

/**
 * {@code digest.cu} step for step in Java (torch-free): the same bfloat16 outward rounding, the same order of the
 * minimum/maximum scan over a part's rows, the same fp32 sum over {@code d} in order, the same treatment of slots and
 * digest indexes out of range. On the CPU it is the digests' implementation; in the {@code gpu} test it is the
 * oracle the kernels must match bit for bit (digests) and to float rounding (bounds). The rank of
 * {@link #rank} is what the host does with the kernel's bounds (model's {@code HostBlockSelector}).
 *
 * <p>Digests of codes with a sketch ({@link DigestShape#codes()}: {@link #updateSketch}, {@link #score}) are model's
 * {@code BlockDigests} ({@code update} with {@code encode} and {@code codeKeys}, {@code score}) for one part, literally: the
 * same float32 operations in the same order (Java float arithmetic is IEEE round to nearest, never fused), so that the
 * digest bytes and the estimates equal that class's bit for bit, and the kernels ({@code digest_sketch_update_<dtype>},
 * {@code digest_sketch_score}) equal these bit for bit. {@link #exact} is {@code digest_exact_<dtype>} (to float rounding:
 * the kernel may fuse its multiply-adds).
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
        requireBf16(s, "DigestMirror.update");
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
        requireBf16(s, "DigestMirror.bound");
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

    /** Throws unless {@code s} is a bfloat16 digest (bits 16), naming {@code what} and the method to use instead. */
    static void requireBf16(DigestShape s, String what) {
        if (s.codes()) {
            throw new IllegalArgumentException(what + " takes bfloat16 digests (bits 16); " + s + " is a digest of codes with a sketch");
        }
    }

    /** Throws unless {@code s} is a digest of codes with a sketch (bits 8 or 4). */
    static void requireCodes(DigestShape s, String what) {
        if (!s.codes()) {
            throw new IllegalArgumentException(what + " takes digests of codes with a sketch (bits 8 or 4); " + s + " is bfloat16");
        }
    }

    /**
     * {@code digest_sketch_update_<dtype>}: the code digests of list entries {@code 0 .. n - 1}, model's {@code BlockDigests.update}
     * ({@code encode}, then {@code codeKeys}) for one part, each digest one record of {@link DigestShape#bytesPerBlock()} bytes
     * laid out as {@link DigestShape} says (the padding written 0):
     * <ol>
     *   <li>per column {@code (kh, d)} the minimum {@code mn} and maximum {@code mx} over the block's rows, scanned in order from
     *       row 0's value ({@code v < mn ? v : mn}, {@code v > mx ? v : mx});</li>
     *   <li>per KV head {@code lo = min_d mn}, {@code hi = max_d mx} ({@link Math#min}, {@link Math#max}), {@code step =
     *       (hi - lo) / levels} with {@code levels = 2^bits - 1}, replaced by {@code hi > lo ? MAX_VALUE / levels : 1} when not
     *       a positive finite float, then raised by {@link Math#nextUp} while {@code lo + levels step < hi};</li>
     *   <li>per column the minimum's code {@code floor((mn - lo) / step)} clamped to {@code [0, levels]}, lowered while
     *       {@code lo + c step > mn}; the maximum's {@code ceil((mx - lo) / step)} clamped, raised while {@code lo + c step < mx};</li>
     *   <li>per column the sketch's floor {@code f = lo + cmin step} and step {@code u = (lo + cmax step - f) / (2^sketch - 1)};
     *       every key's code {@code u > 0 ? rint((k - f) / u) : 0} clamped to {@code [0, 2^sketch - 1]}.</li>
     * </ol>
     *
     * @param slab          the slab's elements as floats (already what the KV dtype holds)
     * @param slotElements  elements from one slot to the next ({@code slotBytes / elemBytes})
     * @param keyOffset     elements from a slot's start to its K half (0 in tiering's layout)
     * @param capacity      slots in the slab: entries with a slot outside {@code [0, capacity)} are skipped
     * @param digests       {@code digestCapacity * bytesPerBlock()} bytes, written in place; entries with a digest index outside
     *                      {@code [0, digestCapacity)} are skipped
     * @throws IllegalArgumentException for a bfloat16 shape (use {@link #update})
     */
    public static void updateSketch(DigestShape s, float[] slab, long slotElements, long keyOffset, int capacity, int[] slots,
                                    int[] digestIndexes, int n, byte[] digests) {
        requireCodes(s, "DigestMirror.updateSketch");
        int blockBytes = (int) s.bytesPerBlock();
        int digestCapacity = digests.length / blockBytes;
        int kvHeads = s.kvHeads();
        int headDim = s.headDim();
        int row = s.row();
        int rows = s.blockSize();
        int levels = (1 << s.bits()) - 1;
        int sketchLevels = (1 << s.sketch()) - 1;
        int perByte = 8 / s.sketch();
        float[] mins = new float[row];
        float[] maxs = new float[row];
        int[] minCodes = new int[row];
        int[] maxCodes = new int[row];
        float[] floor = new float[headDim];
        float[] step = new float[headDim];
        for (int b = 0; b < n; b++) {
            int slot = slots[b];
            int index = digestIndexes[b];
            if (slot < 0 || slot >= capacity || index < 0 || index >= digestCapacity) {
                continue;
            }
            long keys = slot * slotElements + keyOffset;
            for (int e = 0; e < row; e++) { // the extremes, scanned as digest_update does
                float mn = slab[(int) (keys + e)];
                float mx = mn;
                for (int r = 1; r < rows; r++) {
                    float v = slab[(int) (keys + (long) r * row + e)];
                    mn = v < mn ? v : mn;
                    mx = v > mx ? v : mx;
                }
                mins[e] = mn;
                maxs[e] = mx;
            }
            int base = index * blockBytes;
            java.util.Arrays.fill(digests, base, base + blockBytes, (byte) 0);
            int codesAt = base + 8 * kvHeads;
            int sketchAt = (int) (codesAt + s.boxCodeBytes());
            for (int kh = 0; kh < kvHeads; kh++) { // BlockDigests.encode, group g = kh
                int r0 = kh * headDim;
                float lo = Float.POSITIVE_INFINITY;
                float hi = Float.NEGATIVE_INFINITY;
                for (int d = 0; d < headDim; d++) {
                    lo = Math.min(lo, mins[r0 + d]);
                    hi = Math.max(hi, maxs[r0 + d]);
                }
                float st = (hi - lo) / levels;
                if (!(st > 0) || Float.isInfinite(st)) {
                    st = hi > lo ? Float.MAX_VALUE / levels : 1f;
                }
                while (lo + levels * st < hi) {
                    st = Math.nextUp(st);
                }
                putFloat(digests, base + 8 * kh, lo);
                putFloat(digests, base + 8 * kh + 4, st);
                for (int d = 0; d < headDim; d++) {
                    float mn = mins[r0 + d];
                    int c = (int) Math.max(0, Math.min(levels, Math.floor((mn - lo) / st)));
                    while (c > 0 && lo + c * st > mn) {
                        c--;
                    }
                    minCodes[r0 + d] = c;
                    putBoxCode(s, digests, codesAt, r0 + d, c);
                    float mx = maxs[r0 + d];
                    c = (int) Math.max(0, Math.min(levels, Math.ceil((mx - lo) / st)));
                    while (c < levels && lo + c * st < mx) {
                        c++;
                    }
                    maxCodes[r0 + d] = c;
                    putBoxCode(s, digests, codesAt, row + r0 + d, c);
                }
                // BlockDigests.codeKeys for this KV head: boxSteps, then every row's key
                for (int d = 0; d < headDim; d++) {
                    floor[d] = lo + minCodes[r0 + d] * st;
                    step[d] = (lo + maxCodes[r0 + d] * st - floor[d]) / sketchLevels;
                }
                for (int t = 0; t < rows; t++) {
                    int at = (t * kvHeads + kh) * headDim;
                    for (int d = 0; d < headDim; d++) {
                        float k = slab[(int) (keys + at + d)];
                        int c = step[d] > 0 ? (int) Math.rint((k - floor[d]) / step[d]) : 0;
                        c = Math.max(0, Math.min(sketchLevels, c));
                        int i = at + d;
                        digests[sketchAt + i / perByte] |= (byte) (c << ((i % perByte) * s.sketch()));
                    }
                }
            }
        }
    }

    /** Box code {@code i} ({@code (which kvHeads + kh) headDim + d}) into the codes at {@code codesAt}, as BlockDigests.putCode. */
    private static void putBoxCode(DigestShape s, byte[] b, int codesAt, int i, int code) {
        if (s.bits() == 8) {
            b[codesAt + i] = (byte) code;
        } else {
            int shift = (i & 1) * 4;
            b[codesAt + (i >> 1)] = (byte) ((b[codesAt + (i >> 1)] & ~(0xF << shift)) | (code << shift));
        }
    }

    /** Box code {@code i} of the digest at {@code base}. */
    private static int boxCode(DigestShape s, byte[] b, int base, int i) {
        int codesAt = base + 8 * s.kvHeads();
        return s.bits() == 8 ? b[codesAt + i] & 0xFF : (b[codesAt + (i >> 1)] >> ((i & 1) * 4)) & 0xF;
    }

    /**
     * The stored minimum ({@code which} 0) or maximum (1) of dimension {@code d} of KV head {@code kh} in the code digest at
     * {@code index}: {@code lo + code step} in float32, as BlockDigests.value reads it.
     */
    public static float boxValue(DigestShape s, byte[] digests, int index, int which, int kh, int d) {
        requireCodes(s, "DigestMirror.boxValue");
        int base = index * (int) s.bytesPerBlock();
        float lo = getFloat(digests, base + 8 * kh);
        float step = getFloat(digests, base + 8 * kh + 4);
        return lo + boxCode(s, digests, base, (which * s.kvHeads() + kh) * s.headDim() + d) * step;
    }

    /** The sketch code of (token row {@code t}, KV head {@code kh}, dimension {@code d}) in the code digest at {@code index}. */
    public static int sketchCode(DigestShape s, byte[] digests, int index, int t, int kh, int d) {
        requireCodes(s, "DigestMirror.sketchCode");
        int i = (t * s.kvHeads() + kh) * s.headDim() + d;
        int perByte = 8 / s.sketch();
        int at = (int) (index * s.bytesPerBlock() + 8L * s.kvHeads() + s.boxCodeBytes() + i / perByte);
        return (digests[at] >> ((i % perByte) * s.sketch())) & ((1 << s.sketch()) - 1);
    }

    /**
     * {@code digest_sketch_score}: each query head's estimated best score in each listed block (model's {@code
     * BlockDigests.score} with a sketch): with {@code kh = h / (heads / kvHeads)}, the sketch's floor {@code f_d} and step
     * {@code u_d} of KV head {@code kh} ({@link #updateSketch}), {@code offset = sum_d q_d f_d} and {@code w_d = q_d u_d}
     * (float32, {@code d} in order, from 0), {@code best = max over rows t of sum_d w_d code(t, kh, d)} (float32, {@code d}
     * in order, from 0), {@code out[b * heads + h] = (offset + best) * scale}; {@code +inf} for an entry whose digest index
     * is outside {@code [0, digestCapacity)}.
     *
     * @param q       (heads, headDim) float32, one query
     * @param digests {@code digestCapacity * bytesPerBlock()} bytes
     * @throws IllegalArgumentException for a bfloat16 shape (use {@link #bound})
     */
    public static void score(DigestShape s, float[] q, int heads, float scale, byte[] digests, int[] digestIndexes, int n, float[] out) {
        requireCodes(s, "DigestMirror.score");
        int blockBytes = (int) s.bytesPerBlock();
        int digestCapacity = digests.length / blockBytes;
        int kvHeads = s.kvHeads();
        int headDim = s.headDim();
        int blockSize = s.blockSize();
        int group = heads / kvHeads;
        int sketch = s.sketch();
        int levels = (1 << sketch) - 1;
        int mask = levels;
        int perByte = 8 / sketch;
        float[] floor = new float[headDim];
        float[] step = new float[headDim];
        float[] w = new float[headDim];
        for (int b = 0; b < n; b++) {
            int index = digestIndexes[b];
            if (index < 0 || index >= digestCapacity) {
                java.util.Arrays.fill(out, b * heads, (b + 1) * heads, Float.POSITIVE_INFINITY);
                continue;
            }
            int base = index * blockBytes;
            int sketchAt = (int) (base + 8L * kvHeads + s.boxCodeBytes());
            for (int kh = 0; kh < kvHeads; kh++) {
                float lo = getFloat(digests, base + 8 * kh);
                float st = getFloat(digests, base + 8 * kh + 4);
                for (int d = 0; d < headDim; d++) { // BlockDigests.boxSteps
                    floor[d] = lo + boxCode(s, digests, base, kh * headDim + d) * st;
                    step[d] = (lo + boxCode(s, digests, base, (kvHeads + kh) * headDim + d) * st - floor[d]) / levels;
                }
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
                        float sum = 0;
                        int at = sketchAt + row / perByte; // headDim is a multiple of 8: whole bytes per row
                        for (int d = 0; d < headDim; d += perByte) {
                            int c = digests[at++];
                            for (int j = 0; j < perByte; j++, c >>= sketch) {
                                sum += w[d + j] * (c & mask);
                            }
                        }
                        best = Math.max(best, sum);
                    }
                    out[b * heads + h] = (offset + best) * scale;
                }
            }
        }
    }

    /**
     * {@code digest_exact_<dtype>}: each query head's best exact score over the live rows of listed KV blocks (the second
     * stage of the selection, reading a few candidates' keys): for list entry {@code j < n} and query head {@code h}
     * ({@code kh = h / kv.group()}), {@code out[j * heads + h] = max over live rows r of scale * sum_d q[h][d] k[r][kh][d]}
     * (float32, {@code d} in order, from 0; rows of slot {@code slots[j]}, {@code (blockSize, kvHeads, headDim)} at
     * {@code keyOffset} into the slot). Row {@code r} is live when {@code r < validRows[j]} and {@code mask[j * blockSize + r]
     * == 0}. {@code -inf} when {@code headMask[j * kvHeads + kh] == 0} (those keys are not read), when no row is live, or when
     * the slot is outside {@code [0, capacity)}.
     *
     * @param kv        the slab's geometry (heads, KV heads, head dim, block size, slot size); {@code heads = kv.heads()}
     * @param q         (heads, headDim) float32, one query
     * @param slab      the slab's elements as floats (already what the KV dtype holds)
     * @param keyOffset elements from a slot's start to its K half (0 in tiering's layout)
     * @param capacity  slots in the slab
     * @param validRows {@code [n]} rows before the causal edge per entry, or null for all {@code blockSize}
     * @param mask      {@code [n][blockSize]} non-zero for an evicted row, or null for none
     * @param headMask  {@code [n][kvHeads]} non-zero for the KV heads to score (required)
     * @param out       {@code [n][heads]}
     */
    public static void exact(PagedKvShape kv, float[] q, float scale, float[] slab, long keyOffset, int capacity, int[] slots,
                             int[] validRows, byte[] mask, byte[] headMask, int n, float[] out) {
        int heads = kv.heads();
        int kvHeads = kv.kvHeads();
        int headDim = kv.headDim();
        int blockSize = kv.blockSize();
        int group = kv.group();
        long slotElements = kv.slotBytes() / kv.dtype().bytes();
        for (int j = 0; j < n; j++) {
            int slot = slots[j];
            int rows = validRows != null ? validRows[j] : blockSize;
            for (int h = 0; h < heads; h++) {
                int kh = h / group;
                float best = Float.NEGATIVE_INFINITY;
                if (slot >= 0 && slot < capacity && headMask[j * kvHeads + kh] != 0) {
                    long keys = slot * slotElements + keyOffset;
                    for (int r = 0; r < blockSize && r < rows; r++) {
                        if (mask != null && mask[j * blockSize + r] != 0) {
                            continue;
                        }
                        long at = keys + kv.element(r, kh, 0);
                        float dot = 0f;
                        for (int d = 0; d < headDim; d++) {
                            dot += q[h * headDim + d] * slab[(int) (at + d)];
                        }
                        float sc = scale * dot;
                        best = sc > best ? sc : best;
                    }
                }
                out[j * heads + h] = best;
            }
        }
    }

    /** Little-endian float32 at byte {@code at}. */
    static float getFloat(byte[] b, int at) {
        return Float.intBitsToFloat((b[at] & 0xFF) | (b[at + 1] & 0xFF) << 8 | (b[at + 2] & 0xFF) << 16 | (b[at + 3] & 0xFF) << 24);
    }

    private static void putFloat(byte[] b, int at, float v) {
        int bits = Float.floatToRawIntBits(v);
        b[at] = (byte) bits;
        b[at + 1] = (byte) (bits >>> 8);
        b[at + 2] = (byte) (bits >>> 16);
        b[at + 3] = (byte) (bits >>> 24);
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

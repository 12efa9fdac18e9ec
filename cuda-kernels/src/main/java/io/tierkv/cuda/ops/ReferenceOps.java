package io.tierkv.cuda.ops;

/**
 * The decoder kernels in plain Java, written for clarity (double accumulation): the oracle the {@code gpu}
 * conformance tests hold the CUDA ops to, and the definition of their contracts. 16-bit inputs are passed
 * already decoded to float ({@link HalfFloats}).
 */
public final class ReferenceOps {
    private ReferenceOps() {
    }

    /** A partial attention result: normalised {@code out [heads][headDim]} and {@code lse [heads]}. */
    public record Attention(float[] out, float[] lse) {
    }

    /** {@code y = W x (+ residual)}, W {@code [out][in]}; residual may be null. */
    public static float[] gemv(float[] w, float[] x, float[] residual, int out, int in) {
        return gemm(x, w, residual, 1, out, in);
    }

    /** {@code Y[n][out] = X[n][in] . W[out][in]^T (+ residual)}; residual may be null. */
    public static float[] gemm(float[] x, float[] w, float[] residual, int n, int out, int in) {
        float[] y = new float[n * out];
        for (int r = 0; r < n; r++) {
            for (int o = 0; o < out; o++) {
                double acc = 0;
                for (int i = 0; i < in; i++) {
                    acc += (double) x[r * in + i] * w[o * in + i];
                }
                y[r * out + o] = (float) acc + (residual == null ? 0f : residual[r * out + o]);
            }
        }
        return y;
    }

    /** RMSNorm of {@code rows} rows of {@code dim}. */
    public static float[] rmsNorm(float[] x, float[] w, int rows, int dim, float eps) {
        float[] out = new float[rows * dim];
        for (int r = 0; r < rows; r++) {
            double ss = 0;
            for (int i = 0; i < dim; i++) {
                ss += (double) x[r * dim + i] * x[r * dim + i];
            }
            double inv = 1.0 / Math.sqrt(ss / dim + eps);
            for (int i = 0; i < dim; i++) {
                out[r * dim + i] = (float) (x[r * dim + i] * inv * w[i]);
            }
        }
        return out;
    }

    /** Rotate-half RoPE in place on {@code x [tokens][heads][headDim]}, tables {@code [rows][headDim / 2]}, token t at start + t. */
    public static void rope(float[] x, int tokens, int heads, int headDim, int start, float[] cos, float[] sin) {
        int half = headDim / 2;
        for (int t = 0; t < tokens; t++) {
            for (int h = 0; h < heads; h++) {
                int base = (t * heads + h) * headDim;
                for (int i = 0; i < half; i++) {
                    double c = cos[(start + t) * half + i];
                    double s = sin[(start + t) * half + i];
                    double x1 = x[base + i];
                    double x2 = x[base + i + half];
                    x[base + i] = (float) (x1 * c - x2 * s);
                    x[base + i + half] = (float) (x2 * c + x1 * s);
                }
            }
        }
    }

    /** {@code silu(gate) * up}. */
    public static float[] siluMul(float[] gate, float[] up) {
        float[] out = new float[gate.length];
        for (int i = 0; i < out.length; i++) {
            double g = gate[i];
            out[i] = (float) (g / (1 + Math.exp(-g)) * up[i]);
        }
        return out;
    }

    /** {@code a + b}. */
    public static float[] add(float[] a, float[] b) {
        float[] out = new float[a.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = a[i] + b[i];
        }
        return out;
    }

    /** Rows {@code ids[t]} of {@code table [vocab][dim]}. */
    public static float[] embed(float[] table, int dim, int[] ids) {
        float[] out = new float[ids.length * dim];
        for (int t = 0; t < ids.length; t++) {
            System.arraycopy(table, ids[t] * dim, out, t * dim, dim);
        }
        return out;
    }

    /** {@link #pagedAttention(PagedKvShape, float[], float[], int[], int[], byte[], byte[], int, float)} without a head mask. */
    public static Attention pagedAttention(PagedKvShape s, float[] q, float[] slab, int[] slots, int[] validRows, byte[] mask,
                                           int nBlocks, float scale) {
        return pagedAttention(s, q, slab, slots, validRows, mask, null, nBlocks, scale);
    }

    /**
     * Paged attention of {@code q [heads][headDim]} over list entries {@code 0 .. nBlocks - 1}. {@code slab} holds
     * the slab's elements as floats (slot s at {@code s * slotBytes / elemBytes}); {@code validRows}, {@code mask} and
     * {@code headMask} ({@code [nBlocks][kvHeads]}, 0 = entry left out for that KV head's query heads) may be null. See
     * {@link CudaPagedAttention#attendAsync(PagedKvShape, long, long, long, long, long, long, long, int, float, long, long,
     * io.tierkv.cuda.driver.CudaStream) CudaPagedAttention.attendAsync} for the contract.
     *
     * @throws IllegalArgumentException for a head mask shorter than {@code nBlocks * kvHeads}
     */
    public static Attention pagedAttention(PagedKvShape s, float[] q, float[] slab, int[] slots, int[] validRows, byte[] mask,
                                           byte[] headMask, int nBlocks, float scale) {
        checkHeadMask(s, headMask, nBlocks);
        int heads = s.heads();
        int hd = s.headDim();
        long slotElems = s.slotBytes() / s.dtype().bytes();
        long halfElems = s.halfBytes() / s.dtype().bytes();
        float[] out = new float[heads * hd];
        float[] lse = new float[heads];
        long capacity = slab.length / slotElems;
        for (int h = 0; h < heads; h++) {
            int g = h / s.group();
            double max = Double.NEGATIVE_INFINITY;
            java.util.List<double[]> live = new java.util.ArrayList<>(); // {score, slotBase + element}
            for (int b = 0; b < nBlocks; b++) {
                if (headMask != null && headMask[b * s.kvHeads() + g] == 0) {
                    continue;
                }
                if (slots[b] < 0 || slots[b] >= capacity) { // the kernel skips a slot outside the slab, reading nothing
                    continue;
                }
                int rows = validRows == null ? s.blockSize() : validRows[b];
                for (int r = 0; r < rows; r++) {
                    if (mask != null && mask[b * s.blockSize() + r] != 0) {
                        continue;
                    }
                    long k = slots[b] * slotElems + s.element(r, g, 0);
                    double dot = 0;
                    for (int d = 0; d < hd; d++) {
                        dot += (double) q[h * hd + d] * slab[(int) (k + d)];
                    }
                    double sc = scale * dot;
                    live.add(new double[] {sc, k});
                    max = Math.max(max, sc);
                }
            }
            if (live.isEmpty()) {
                lse[h] = Float.NEGATIVE_INFINITY;
                continue;
            }
            double sum = 0;
            double[] acc = new double[hd];
            for (double[] e : live) {
                double p = Math.exp(e[0] - max);
                sum += p;
                long v = (long) e[1] + halfElems;
                for (int d = 0; d < hd; d++) {
                    acc[d] += p * slab[(int) (v + d)];
                }
            }
            for (int d = 0; d < hd; d++) {
                out[h * hd + d] = (float) (acc[d] / sum);
            }
            lse[h] = (float) (max + Math.log(sum));
        }
        return new Attention(out, lse);
    }

    /**
     * {@link #pagedAttention} of {@code rows} query rows ({@code q [rows][heads][headDim]}) over the same list entries, row z
     * attending the positions up to {@code firstPosition + z}: row r of entry b only if {@code block(b) * blockSize + r <=
     * firstPosition + z}, {@code block(b)} from {@code blockIndex} or b itself when it is null (see {@link
     * CudaPagedAttention#attendPartsRowsAsync}). Each row is {@link #pagedAttention} with the entries' valid rows cut at its edge.
     * Out {@code [rows][heads][headDim]}, lse {@code [rows][heads]}.
     */
    public static Attention pagedAttentionRows(PagedKvShape s, float[] q, int rows, int firstPosition, int[] blockIndex, float[] slab,
                                               int[] slots, int[] validRows, byte[] mask, byte[] headMask, int nBlocks, float scale) {
        int qFloats = s.heads() * s.headDim();
        float[] out = new float[rows * qFloats];
        float[] lse = new float[rows * s.heads()];
        int[] cut = new int[nBlocks];
        for (int z = 0; z < rows; z++) {
            long edge = (long) firstPosition + z;
            for (int b = 0; b < nBlocks; b++) {
                long first = (long) (blockIndex == null ? b : blockIndex[b]) * s.blockSize();
                int valid = validRows == null ? s.blockSize() : validRows[b];
                cut[b] = (int) Math.max(0, Math.min(valid, edge - first + 1));
            }
            Attention a = pagedAttention(s, java.util.Arrays.copyOfRange(q, z * qFloats, (z + 1) * qFloats), slab, slots, cut, mask,
                    headMask, nBlocks, scale);
            System.arraycopy(a.out(), 0, out, z * qFloats, qFloats);
            System.arraycopy(a.lse(), 0, lse, z * s.heads(), s.heads());
        }
        return new Attention(out, lse);
    }

    /** A head mask ({@code [nBlocks][kvHeads]} u8, or null for none) must cover every (list entry, KV head). */
    static void checkHeadMask(PagedKvShape s, byte[] headMask, int nBlocks) {
        if (headMask != null && headMask.length < (long) nBlocks * s.kvHeads()) {
            throw new IllegalArgumentException("headMask must hold nBlocks * kvHeads = " + nBlocks + " * " + s.kvHeads() + " bytes, had "
                    + headMask.length);
        }
    }

    /** The exact merge of two normalised parts (see {@link CudaPagedAttention#mergeAsync}). */
    public static Attention merge(Attention a, Attention b, int heads, int headDim) {
        float[] out = new float[heads * headDim];
        float[] lse = new float[heads];
        for (int h = 0; h < heads; h++) {
            double la = a.lse()[h];
            double lb = b.lse()[h];
            double m = Math.max(la, lb);
            if (m == Double.NEGATIVE_INFINITY) {
                lse[h] = Float.NEGATIVE_INFINITY;
                continue;
            }
            double wa = Math.exp(la - m);
            double wb = Math.exp(lb - m);
            double sum = wa + wb;
            for (int d = 0; d < headDim; d++) {
                int i = h * headDim + d;
                out[i] = (float) ((wa * a.out()[i] + wb * b.out()[i]) / sum);
            }
            lse[h] = (float) (m + Math.log(sum));
        }
        return new Attention(out, lse);
    }
}

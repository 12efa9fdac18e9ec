package io.tierkv.cuda.ops;

/**
 * Launch geometry of the decoder kernels, in pure Java so that it is unit-tested without a GPU. Every
 * method checks the CUDA limits it relies on (grid y and z at most 65535, x at most 2^31 - 1) and throws
 * {@link IllegalArgumentException} naming the value that does not fit.
 */
public final class LaunchPlans {
    /** Threads per CTA of the GEMV, GEMM and elementwise kernels. */
    public static final int THREADS = 256;
    /** Warps per GEMV CTA. */
    public static final int GEMV_WARPS = THREADS / 32;
    /** Output tile of the GEMM (rows of X and columns of Y). */
    public static final int GEMM_TILE = 64;
    /** Threads per CTA of the paged attention kernels. */
    public static final int ATTENTION_THREADS = 128;
    /** Warps per paged attention CTA. */
    public static final int ATTENTION_WARPS = ATTENTION_THREADS / 32;
    /**
     * Paged attention CTAs wanted per SM: with 72 registers at 128 threads, 7 fit on an SM; 6 keep about 22
     * KiB of K/V rows in flight per SM (2 rows of 512 B per warp at head dim 128, BF16), about what HBM3e's
     * latency-bandwidth product asks. A guess until the GPU check has measured it.
     */
    public static final int ATTENTION_CTAS_PER_SM = 6;
    /** The largest head dimension of the paged attention kernel (8 columns per lane). */
    public static final int MAX_HEAD_DIM = 256;
    /** CTAs of a grid-stride launch are capped here; each thread then takes several elements. */
    public static final int MAX_STRIDE_BLOCKS = 65535;
    static final int MAX_GRID_YZ = 65535;

    private LaunchPlans() {
    }

    /**
     * Warps per output row of the GEMV (1, 2, 4 or 8): as few as keep {@code 2 * sms} CTAs busy, so that long
     * rows of a big matrix get one warp each and a small matrix is still spread over every SM.
     */
    public static int gemvWarpsPerRow(int out, int sms) {
        positive("out", out);
        positive("sms", sms);
        int w = 1;
        while (w < GEMV_WARPS && ceilDiv(out, GEMV_WARPS / w) < 2L * sms) {
            w *= 2;
        }
        return w;
    }

    /** CTAs of the GEMV for {@code out} rows at {@code warpsPerRow}. */
    public static int gemvBlocks(int out, int warpsPerRow) {
        positive("out", out);
        if (warpsPerRow < 1 || warpsPerRow > GEMV_WARPS || Integer.bitCount(warpsPerRow) != 1) {
            throw new IllegalArgumentException("warpsPerRow must be 1, 2, 4 or 8, was " + warpsPerRow);
        }
        return (int) ceilDiv(out, GEMV_WARPS / warpsPerRow);
    }

    /** The GEMM grid {@code {x, y}} = {@code {ceil(out / 64), ceil(n / 64)}}; y must stay within 65535. */
    public static int[] gemmGrid(int n, int out) {
        positive("n", n);
        positive("out", out);
        long y = ceilDiv(n, GEMM_TILE);
        if (y > MAX_GRID_YZ) {
            throw new IllegalArgumentException("n = " + n + " rows need " + y + " row tiles, more than 65535; split the chunk");
        }
        return new int[] {(int) ceilDiv(out, GEMM_TILE), (int) y};
    }

    /** CTAs of a grid-stride elementwise launch over {@code n} elements (at least 1). */
    public static int strideBlocks(long n) {
        if (n < 0) {
            throw new IllegalArgumentException("element count must be >= 0, was " + n);
        }
        return (int) Math.max(1, Math.min(MAX_STRIDE_BLOCKS, ceilDiv(n, THREADS)));
    }

    /**
     * How the paged attention splits {@code nBlocks} list entries over CTAs: {@code {splits, blocksPerSplit}}
     * with about {@code ATTENTION_CTAS_PER_SM * sms} CTAs in all ({@code kvHeads * splits}), every split non-empty, splits within
     * 65535. {@code {0, 0}} when there are no blocks (only the combine runs).
     */
    public static int[] attentionSplits(int nBlocks, int kvHeads, int sms) {
        if (nBlocks < 0) {
            throw new IllegalArgumentException("nBlocks must be >= 0, was " + nBlocks);
        }
        positive("kvHeads", kvHeads);
        positive("sms", sms);
        if (nBlocks == 0) {
            return new int[] {0, 0};
        }
        long wanted = Math.max(1, ceilDiv((long) ATTENTION_CTAS_PER_SM * sms, kvHeads));
        int splits = (int) Math.min(nBlocks, Math.min(wanted, MAX_GRID_YZ));
        int perSplit = (int) ceilDiv(nBlocks, splits);
        splits = (int) ceilDiv(nBlocks, perSplit);
        return new int[] {splits, perSplit};
    }

    /** Dynamic shared memory of the paged attention kernel, in bytes (see {@code paged_attention.cu}). */
    public static int attentionSharedBytes(int group, int headDim) {
        positive("group", group);
        positive("headDim", headDim);
        long gd = (long) group * headDim;
        long floats = gd + ATTENTION_WARPS * (gd + 2L * group);
        return (int) Math.min(Integer.MAX_VALUE, floats * Float.BYTES);
    }

    static long ceilDiv(long a, long b) {
        return (a + b - 1) / b;
    }

    static void positive(String what, long v) {
        if (v <= 0) {
            throw new IllegalArgumentException(what + " must be > 0, was " + v);
        }
    }
}

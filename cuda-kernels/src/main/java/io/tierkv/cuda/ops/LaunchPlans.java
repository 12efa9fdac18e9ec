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
    /** Rows of K and V each paged attention thread loads per tile, all before it uses any. */
    public static final int ATTENTION_ROWS_PER_THREAD = 4;
    /** The largest head dimension of the paged attention kernel (8 columns per lane, 32 lanes per row). */
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

    /**
     * Warps per row of the fused GEMVs whose epilogue pairs two rows in one CTA (RoPE's rotate-half pairs, SwiGLU's gate
     * and up): {@link #gemvWarpsPerRow} for {@code rows} at most 4, so that a CTA holds an even number of rows.
     */
    public static int pairedGemvWarpsPerRow(int rows, int sms) {
        return Math.min(GEMV_WARPS / 2, gemvWarpsPerRow(rows, sms));
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
     * The launch of {@code paged_attention_<dtype>_g<headsPerCta>}: grid {@code (kvHeads * headChunks, splits)} of
     * {@link #ATTENTION_THREADS} threads, list entries {@code [s * blocksPerSplit, (s + 1) * blocksPerSplit)} per split.
     *
     * @param headsPerCta    G, the query heads one CTA serves from one read of K and V: the group rounded up to 1, 2, 4 or 8
     * @param headChunks     CTAs per KV head along x: {@code ceil(group / G)} (more than 1 only for groups above 8)
     * @param splits         CTAs per (KV head, head chunk) along y, each over its own list entries
     * @param blocksPerSplit list entries per split (the last split may have fewer, never none)
     * @param tileRows       rows per tile: {@code 4 x 4 warps x (32 / lanes per row)}
     * @param sharedBytes    dynamic shared memory of one CTA
     */
    public record AttentionPlan(int headsPerCta, int headChunks, int splits, int blocksPerSplit, int tileRows, int sharedBytes) {
        /** CTAs in the grid. */
        public long ctas(int kvHeads) {
            return (long) kvHeads * headChunks * splits;
        }
    }

    /**
     * Plans a paged attention launch over {@code nBlocks > 0} list entries: as many splits as fill the GPU in one wave
     * ({@link #attentionCtasPerSm} resident CTAs per SM), but at least two tiles of rows per split, so that short lists
     * are not cut into slivers whose partials cost more to merge than to compute.
     */
    public static AttentionPlan pagedAttention(int nBlocks, int blockSize, int kvHeads, int group, int headDim, int sms) {
        return pagedAttention(nBlocks, blockSize, kvHeads, group, headDim, sms, 1);
    }

    /**
     * {@link #pagedAttention(int, int, int, int, int, int)} for {@code rows} query rows in one launch (grid z): the splits
     * that fill the GPU for one row, divided among the rows.
     */
    public static AttentionPlan pagedAttention(int nBlocks, int blockSize, int kvHeads, int group, int headDim, int sms, int rows) {
        positive("rows", rows);
        if (rows > MAX_GRID_YZ) {
            throw new IllegalArgumentException("rows = " + rows + " is more than a grid's 65535 z; split the chunk");
        }
        positive("nBlocks", nBlocks);
        positive("blockSize", blockSize);
        positive("kvHeads", kvHeads);
        positive("group", group);
        positive("sms", sms);
        checkAttentionHeadDim(headDim);
        int g = attentionHeadsPerCta(group);
        int headChunks = (int) ceilDiv(group, g);
        long columns = (long) kvHeads * headChunks;
        int tile = attentionTileRows(headDim);
        long wanted = Math.max(1, (long) attentionCtasPerSm(g) * sms / (columns * rows));
        long minBlocks = ceilDiv(2L * tile, blockSize);
        int splits = (int) Math.min(Math.min(wanted, Math.max(1, nBlocks / minBlocks)), MAX_GRID_YZ);
        int perSplit = (int) ceilDiv(nBlocks, splits);
        splits = (int) ceilDiv(nBlocks, perSplit);
        return new AttentionPlan(g, headChunks, splits, perSplit, tile, attentionSharedBytes(g, headDim));
    }

    /** G: the group size rounded up to 1, 2, 4 or 8 (a larger group is served in chunks of 8 query heads). */
    public static int attentionHeadsPerCta(int group) {
        positive("group", group);
        return group <= 1 ? 1 : group <= 2 ? 2 : group <= 4 ? 4 : 8;
    }

    /** Resident CTAs per SM that the kernel's launch bounds guarantee: 4 for G up to 2, 3 for G = 4, 2 for G = 8. */
    public static int attentionCtasPerSm(int headsPerCta) {
        return headsPerCta <= 2 ? 4 : headsPerCta == 4 ? 3 : 2;
    }

    /** Rows per tile: each row is read by the next power of two at or above {@code headDim / 8} lanes, 16 bytes each. */
    public static int attentionTileRows(int headDim) {
        checkAttentionHeadDim(headDim);
        int lanesPerRow = Integer.highestOneBit(headDim / 8 * 2 - 1);
        return ATTENTION_ROWS_PER_THREAD * ATTENTION_WARPS * (32 / lanesPerRow);
    }

    /**
     * Dynamic shared memory of the paged attention kernel, in bytes (see {@code paged_attention.cu}): scores
     * {@code [G][tile]}, reduction scratch {@code [max(warps, slices)][G][headDim]} with {@code slices = 128 / (headDim / 4)},
     * and {@code (5 + warps) x G} floats of statistics.
     */
    public static int attentionSharedBytes(int headsPerCta, int headDim) {
        positive("headsPerCta", headsPerCta);
        int tile = attentionTileRows(headDim);
        int slices = ATTENTION_THREADS / (headDim / 4);
        long floats = (long) headsPerCta * tile + (long) Math.max(ATTENTION_WARPS, slices) * headsPerCta * headDim
                + (5L + ATTENTION_WARPS) * headsPerCta;
        return (int) (floats * Float.BYTES);
    }

    /** The kernel reads a row as 16-byte vectors of 8 columns, at most 32 lanes per row. */
    static void checkAttentionHeadDim(int headDim) {
        if (headDim <= 0 || headDim > MAX_HEAD_DIM || headDim % 8 != 0) {
            throw new IllegalArgumentException("paged attention on the GPU needs headDim a multiple of 8 (rows read as 16-byte vectors)"
                    + " and at most " + MAX_HEAD_DIM + ", was " + headDim);
        }
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

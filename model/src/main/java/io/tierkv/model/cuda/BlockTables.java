package io.tierkv.model.cuda;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The lists of KV blocks a tiered decode step's kernels read, per layer in two parts ({@link #DEVICE}: blocks in the device
 * tier's slab, {@link #HOST}: in the host tier's), built on the host and uploaded in one copy per token; a part can be
 * rewritten (the blocks a sparse host read keeps) and uploaded alone. Owns its device allocation through the
 * {@link StepDevice}, which frees it.
 *
 * <pre>
 *   [layers][2 parts] of:  slots i32 [maxBlocks] | valid rows i32 [maxBlocks] | block index i32 [maxBlocks]
 *                          | mask u8 [maxBlocks][blockSize] | head mask u8 [maxBlocks][kvHeads]
 *   (each region 256-byte aligned; mask: 1 = the row is evicted; head mask: 0 = the entry is left out for that KV
 *    head's query heads, read only after {@link #keep} with a head choice or once a kernel wrote it, {@link #chosenOnDevice})
 * </pre>
 */
final class BlockTables {
    static final int DEVICE = 0;
    static final int HOST = 1;

    /** Which KV heads read entry {@code i} of a part being kept: a per-head sparse read's choice. */
    @FunctionalInterface
    interface HeadChoice {
        boolean reads(int i, int kvHead);
    }

    private final StepDevice device;
    private final int blockSize;
    private final int kvHeads;
    private final int maxBlocks;
    private final long slotsBytes;      // one part's slots region, aligned
    private final long maskBytes;       // one part's mask region, aligned
    private final long partBytes;       // one part's five regions
    private final long tables;          // device: [layers][2][partBytes]
    private final ByteBuffer staging;   // host: the same
    private final int[][] count;        // [layers][2] entries per part
    private final boolean[][] anyMasked; // [layers][2]: a row of the part is evicted
    private final boolean[][] maskDirty; // [layers][2]: a byte of the part's staged mask region may be set (zeroed at clear)
    private final boolean[][] headMasked; // [layers][2]: the part's head mask is read
    private final boolean[][] maskOnDevice; // [layers][2]: ... and was written there by a kernel, not from the host copy

    BlockTables(StepDevice device, int layers, int maxBlocks, int blockSize, int kvHeads) {
        this.device = device;
        this.blockSize = blockSize;
        this.kvHeads = kvHeads;
        this.maxBlocks = maxBlocks;
        this.slotsBytes = StepLayout.align(4L * maxBlocks);
        this.maskBytes = StepLayout.align((long) maxBlocks * blockSize);
        this.partBytes = 3 * slotsBytes + maskBytes + StepLayout.align((long) maxBlocks * kvHeads);
        long all = 2L * layers * partBytes;
        if (all > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("block tables of " + all + " bytes: too many tokens for one upload");
        }
        this.tables = device.alloc(all);
        this.staging = ByteBuffer.allocate((int) all).order(ByteOrder.LITTLE_ENDIAN);
        this.count = new int[layers][2];
        this.anyMasked = new boolean[layers][2];
        this.maskDirty = new boolean[layers][2];
        this.headMasked = new boolean[layers][2];
        this.maskOnDevice = new boolean[layers][2];
    }

    /**
     * Empties layer l's part, before {@link #add}ing its entries. Its mask region is zeroed here, in one fill and only when an
     * earlier build set a byte of it, not per entry: a tiered step rebuilds every layer's parts, and with no token evicted
     * (tier mode) the mask is never written at all.
     */
    void clear(int l, int part) {
        if (maskDirty[l][part]) {
            int at = (int) (base(l, part) + 3 * slotsBytes);
            java.util.Arrays.fill(staging.array(), at, (int) (at + maskBytes), (byte) 0);
            maskDirty[l][part] = false;
        }
        count[l][part] = 0;
        anyMasked[l][part] = false;
        headMasked[l][part] = false;
        maskOnDevice[l][part] = false;
    }

    /** Appends an entry to layer l's part, none of its rows evicted yet; returns its index. */
    int add(int l, int part, int slot, int validRows, int block) {
        int i = count[l][part]++;
        if (i >= maxBlocks) {
            throw new IllegalStateException("layer " + l + " part " + part + " holds more than " + maxBlocks + " blocks");
        }
        int base = base(l, part);
        staging.putInt(base + 4 * i, slot);
        staging.putInt((int) (base + slotsBytes + 4 * i), validRows);
        staging.putInt((int) (base + 2 * slotsBytes + 4 * i), block); // its mask rows are 0 since clear
        return i;
    }

    /** Marks row r of entry i of layer l's part evicted. */
    void evicted(int l, int part, int i, int r) {
        staging.put((int) (base(l, part) + 3 * slotsBytes + (long) i * blockSize + r), (byte) 1);
        anyMasked[l][part] = true;
        maskDirty[l][part] = true;
    }

    /** Uploads every layer's parts. */
    void upload() {
        device.upload(tables, staging.clear());
    }

    /**
     * Keeps the entries {@code i < count} of layer l's host part with {@code keep[i]}, in order, and uploads the part;
     * with {@code heads} non-null, their head mask says which KV heads read each kept entry. Returns how many were kept.
     */
    int keep(int l, boolean[] keep, HeadChoice heads) {
        int base = base(l, HOST);
        int m = copy(staging, base, staging, base, count[l][HOST], keep, heads);
        count[l][HOST] = m;
        anyMasked[l][HOST] = anyMasked[l][HOST] && masked(staging, base, m);
        headMasked[l][HOST] = heads != null;
        maskOnDevice[l][HOST] = false;
        uploadPart(l, HOST);
        return m;
    }

    /**
     * Device address of layer l's part's head mask region (u8 {@code [count][kvHeads]}) for a kernel to write the choice into
     * ({@code head_slices}); {@link #chosenOnDevice} then makes the paged kernels read it.
     */
    long headMaskRegion(int l, int part) {
        return slots(l, part) + 3 * slotsBytes + maskBytes;
    }

    /** A kernel wrote layer l's part's head mask on the device this step: the paged kernels read it from now on. */
    void chosenOnDevice(int l, int part) {
        headMasked[l][part] = true;
        maskOnDevice[l][part] = true;
    }

    int count(int l, int part) {
        return count[l][part];
    }

    /** Device address of layer l's part's slots (i32 [count]). */
    long slots(int l, int part) {
        return tables + base(l, part);
    }

    /** Device address of the part's valid rows (i32 [count]). */
    long validRows(int l, int part) {
        return slots(l, part) + slotsBytes;
    }

    /** Device address of the part's block indexes (i32 [count]). */
    long blocks(int l, int part) {
        return slots(l, part) + 2 * slotsBytes;
    }

    /** Device address of the part's row mask (u8 [count][blockSize]), or 0 when no row of it is evicted. */
    long mask(int l, int part) {
        return anyMasked[l][part] ? slots(l, part) + 3 * slotsBytes : 0;
    }

    /** Device address of the part's head mask (u8 [count][kvHeads]), or 0 when every KV head reads every entry. */
    long headMask(int l, int part) {
        return headMasked[l][part] ? slots(l, part) + 3 * slotsBytes + maskBytes : 0;
    }

    /** The part's slots, from the host copy. */
    int[] slotsOf(int l, int part) {
        return ints(base(l, part), count[l][part]);
    }

    /** The part's valid rows, from the host copy. */
    int[] validRowsOf(int l, int part) {
        return ints((int) (base(l, part) + slotsBytes), count[l][part]);
    }

    /** The part's block indexes, from the host copy. */
    int[] blocksOf(int l, int part) {
        return ints((int) (base(l, part) + 2 * slotsBytes), count[l][part]);
    }

    /** The part's row mask from the host copy, or null when no row of it is evicted. */
    byte[] maskOf(int l, int part) {
        return anyMasked[l][part] ? bytes((int) (base(l, part) + 3 * slotsBytes), count[l][part] * blockSize) : null;
    }

    /**
     * The part's head mask (copied back first when a kernel wrote it), or null when every KV head reads every entry.
     */
    byte[] headMaskOf(int l, int part) {
        if (!headMasked[l][part]) {
            return null;
        }
        int at = (int) (base(l, part) + 3 * slotsBytes + maskBytes);
        int n = count[l][part] * kvHeads;
        if (maskOnDevice[l][part] && n > 0) {
            ByteBuffer region = staging.duplicate();
            region.limit(at + n).position(at);
            device.download(tables + at, region);
        }
        return bytes(at, n);
    }

    private int base(int l, int part) {
        return (int) ((2L * l + part) * partBytes);
    }

    private void uploadPart(int l, int part) {
        int base = base(l, part);
        ByteBuffer region = staging.duplicate();
        region.limit((int) (base + partBytes)).position(base);
        device.upload(tables + base, region);
    }

    /**
     * Copies the entries {@code i < n} with {@code keep[i]} of the part at {@code from} in {@code src} to the first entries of
     * the part at {@code to} in {@code dst}; returns how many. {@code dst} may be {@code src} with {@code to == from}
     * (entries move only to lower indexes).
     */
    private int copy(ByteBuffer src, int from, ByteBuffer dst, int to, int n, boolean[] keep, HeadChoice heads) {
        int j = 0;
        for (int i = 0; i < n; i++) {
            if (!keep[i]) {
                continue;
            }
            dst.putInt(to + 4 * j, src.getInt(from + 4 * i));
            dst.putInt((int) (to + slotsBytes + 4 * j), src.getInt((int) (from + slotsBytes + 4 * i)));
            dst.putInt((int) (to + 2 * slotsBytes + 4 * j), src.getInt((int) (from + 2 * slotsBytes + 4 * i)));
            int maskFrom = (int) (from + 3 * slotsBytes + (long) i * blockSize);
            int maskTo = (int) (to + 3 * slotsBytes + (long) j * blockSize);
            for (int r = 0; r < blockSize; r++) {
                dst.put(maskTo + r, src.get(maskFrom + r));
            }
            if (heads != null) {
                int headTo = (int) (to + 3 * slotsBytes + maskBytes + (long) j * kvHeads);
                for (int kh = 0; kh < kvHeads; kh++) {
                    dst.put(headTo + kh, heads.reads(i, kh) ? (byte) 1 : 0);
                }
            }
            j++;
        }
        return j;
    }

    /** True when a row of the first {@code m} entries of the part at {@code base} of {@code b} is evicted. */
    private boolean masked(ByteBuffer b, int base, int m) {
        int maskBase = (int) (base + 3 * slotsBytes);
        for (int i = 0; i < m * blockSize; i++) {
            if (b.get(maskBase + i) != 0) {
                return true;
            }
        }
        return false;
    }

    private int[] ints(int at, int n) {
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            out[i] = staging.getInt(at + 4 * i);
        }
        return out;
    }

    private byte[] bytes(int at, int n) {
        byte[] out = new byte[n];
        staging.get(at, out);
        return out;
    }
}

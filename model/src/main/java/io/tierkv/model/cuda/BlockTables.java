package io.tierkv.model.cuda;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The lists of KV blocks a tiered decode step's kernels read, per layer in two parts ({@link #DEVICE}: blocks in the device
 * tier's slab, {@link #HOST}: in the host tier's), built on the host and uploaded (what changed) in one copy per token; a part can be
 * rewritten mid-step (the blocks a sparse host read keeps), its changes uploaded at once. Owns its device allocation through the
 * {@link StepDevice}, which frees it.
 *
 * <pre>
 *   [2 parts] of:  valid rows i32 [layers][maxBlocks] | slots i32 [layers][maxBlocks] | block index i32 [layers][maxBlocks]
 *                  | mask u8 [layers][maxBlocks][blockSize] | head mask u8 [layers][maxBlocks][kvHeads]
 *   (each layer's region 256-byte aligned; mask: 1 = the row is evicted; head mask: 0 = the entry is left out for that KV
 *    head's query heads, read only after {@link #keep} with a head choice or once a kernel wrote it, {@link #chosenOnDevice})
 * </pre>
 *
 * <p>Only what changed since the last upload goes up: a build writes a value only when it differs from the staged one and
 * keeps the span of the bytes it changed. Regions are grouped by kind, not by layer, so that a decode step without moves,
 * which changes only the tail block's valid rows in every layer's device part, uploads the device parts' valid rows
 * ({@code layers x maxBlocks} ints), not every table (the mask regions alone are {@code blockSize} times larger).
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
    private final int layers;
    private final long slotsBytes;      // one layer's slots (or valid rows, or block indexes) region, aligned
    private final long maskBytes;       // one layer's mask region, aligned
    private final long headBytes;       // one layer's head mask region, aligned
    private final long partBytes;       // one part: the five regions of every layer
    private final long tables;          // device: [2][partBytes]
    private final ByteBuffer staging;   // host: the same
    private final StagedUpload changes; // staging's changes since the last upload
    private final int[][] count;        // [layers][2] entries per part
    private final boolean[][] anyMasked; // [layers][2]: a row of the part is evicted
    private final boolean[][] maskDirty; // [layers][2]: a byte of the part's staged mask region may be set (zeroed at clear)
    private final boolean[][] headMasked; // [layers][2]: the part's head mask is read
    private final boolean[][] maskOnDevice; // [layers][2]: ... and was written there by a kernel, not from the host copy
    private final boolean[] compacted;  // [layers]: the host part holds what {@link #keep} kept, not what was built

    BlockTables(StepDevice device, int layers, int maxBlocks, int blockSize, int kvHeads) {
        this.device = device;
        this.blockSize = blockSize;
        this.kvHeads = kvHeads;
        this.maxBlocks = maxBlocks;
        this.layers = layers;
        this.slotsBytes = StepLayout.align(4L * maxBlocks);
        this.maskBytes = StepLayout.align((long) maxBlocks * blockSize);
        this.headBytes = StepLayout.align((long) maxBlocks * kvHeads);
        this.partBytes = layers * (3 * slotsBytes + maskBytes + headBytes);
        long all = 2L * partBytes;
        if (all > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("block tables of " + all + " bytes: too many tokens for one upload");
        }
        this.tables = device.alloc(all);
        this.staging = ByteBuffer.allocate((int) all).order(ByteOrder.LITTLE_ENDIAN);
        this.changes = new StagedUpload(device, tables, staging);
        this.count = new int[layers][2];
        this.anyMasked = new boolean[layers][2];
        this.maskDirty = new boolean[layers][2];
        this.headMasked = new boolean[layers][2];
        this.maskOnDevice = new boolean[layers][2];
        this.compacted = new boolean[layers];
    }

    /**
     * Empties layer l's part, before {@link #add}ing its entries. Its mask region is zeroed here, in one fill and only when an
     * earlier build set a byte of it, not per entry: a tiered step rebuilds every layer's parts, and with no token evicted
     * (tier mode) the mask is never written at all.
     */
    void clear(int l, int part) {
        if (maskDirty[l][part]) {
            int at = maskAt(l, part);
            java.util.Arrays.fill(staging.array(), at, (int) (at + maskBytes), (byte) 0);
            changes.changed(at, (int) maskBytes);
            maskDirty[l][part] = false;
        }
        count[l][part] = 0;
        anyMasked[l][part] = false;
        headMasked[l][part] = false;
        maskOnDevice[l][part] = false;
        if (part == HOST) {
            compacted[l] = false;
        }
    }

    /**
     * Keeps layer l's part as it was built for the next step, when the blocks, their tiers and masks did not change: only a
     * kernel's head choice is forgotten (the next step makes its own). False, and nothing done, when {@link #keep} rewrote
     * the part since: the caller {@link #clear}s and rebuilds it.
     */
    boolean reuse(int l, int part) {
        if (part == HOST && compacted[l]) {
            return false;
        }
        headMasked[l][part] = false;
        maskOnDevice[l][part] = false;
        return true;
    }

    /** True when {@link #keep} rewrote layer l's host part since it was built: its entries are no longer the built ones. */
    boolean compacted(int l) {
        return compacted[l];
    }

    /**
     * The tail block, the last entry of layer l's device part (lists are in block order, and the tail never leaves the
     * device), now holds {@code rows} valid rows.
     */
    void tailRows(int l, int tailBlock, int rows) {
        int i = count[l][DEVICE] - 1;
        if (i < 0 || staging.getInt(blocksAt(l, DEVICE) + 4 * i) != tailBlock) {
            throw new IllegalStateException("layer " + l + "'s device part does not end with the tail block " + tailBlock);
        }
        changes.putInt(validAt(l, DEVICE) + 4 * i, rows);
    }

    /** Appends an entry to layer l's part, none of its rows evicted yet; returns its index. */
    int add(int l, int part, int slot, int validRows, int block) {
        int i = count[l][part]++;
        if (i >= maxBlocks) {
            throw new IllegalStateException("layer " + l + " part " + part + " holds more than " + maxBlocks + " blocks");
        }
        changes.putInt(slotsAt(l, part) + 4 * i, slot);
        changes.putInt(validAt(l, part) + 4 * i, validRows);
        changes.putInt(blocksAt(l, part) + 4 * i, block); // its mask rows are 0 since clear
        return i;
    }

    /** Marks row r of entry i of layer l's part evicted. */
    void evicted(int l, int part, int i, int r) {
        changes.putByte(maskAt(l, part) + i * blockSize + r, (byte) 1);
        anyMasked[l][part] = true;
        maskDirty[l][part] = true;
    }

    /** Uploads what changed since the last upload, every layer's parts (nothing when nothing did). */
    void upload() {
        changes.upload();
    }

    /**
     * Keeps the entries {@code i < count} of layer l's host part with {@code keep[i]}, in order, and uploads the changes at once;
     * with {@code heads} non-null, their head mask says which KV heads read each kept entry. Returns how many were kept.
     */
    int keep(int l, boolean[] keep, HeadChoice heads) {
        int m = compact(l, HOST, count[l][HOST], keep, heads);
        count[l][HOST] = m;
        anyMasked[l][HOST] = anyMasked[l][HOST] && masked(maskAt(l, HOST), m);
        headMasked[l][HOST] = heads != null;
        maskOnDevice[l][HOST] = false;
        compacted[l] = true;
        upload();
        return m;
    }

    /**
     * Device address of layer l's part's head mask region (u8 {@code [count][kvHeads]}) for a kernel to write the choice into
     * ({@code head_slices}); {@link #chosenOnDevice} then makes the paged kernels read it.
     */
    long headMaskRegion(int l, int part) {
        return tables + headAt(l, part);
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
        return tables + slotsAt(l, part);
    }

    /** Device address of the part's valid rows (i32 [count]). */
    long validRows(int l, int part) {
        return tables + validAt(l, part);
    }

    /** Device address of the part's block indexes (i32 [count]). */
    long blocks(int l, int part) {
        return tables + blocksAt(l, part);
    }

    /** Device address of the part's row mask (u8 [count][blockSize]), or 0 when no row of it is evicted. */
    long mask(int l, int part) {
        return anyMasked[l][part] ? tables + maskAt(l, part) : 0;
    }

    /** Device address of the part's head mask (u8 [count][kvHeads]), or 0 when every KV head reads every entry. */
    long headMask(int l, int part) {
        return headMasked[l][part] ? tables + headAt(l, part) : 0;
    }

    /** The part's slots, from the host copy. */
    int[] slotsOf(int l, int part) {
        return ints(slotsAt(l, part), count[l][part]);
    }

    /** The part's valid rows, from the host copy. */
    int[] validRowsOf(int l, int part) {
        return ints(validAt(l, part), count[l][part]);
    }

    /** The part's block indexes, from the host copy. */
    int[] blocksOf(int l, int part) {
        return ints(blocksAt(l, part), count[l][part]);
    }

    /** The part's row mask from the host copy, or null when no row of it is evicted. */
    byte[] maskOf(int l, int part) {
        return anyMasked[l][part] ? bytes(maskAt(l, part), count[l][part] * blockSize) : null;
    }

    /**
     * The part's head mask (copied back first when a kernel wrote it), or null when every KV head reads every entry.
     */
    byte[] headMaskOf(int l, int part) {
        if (!headMasked[l][part]) {
            return null;
        }
        int at = headAt(l, part);
        int n = count[l][part] * kvHeads;
        if (maskOnDevice[l][part] && n > 0) {
            ByteBuffer region = staging.duplicate();
            region.limit(at + n).position(at);
            device.download(tables + at, region);
        }
        return bytes(at, n);
    }

    // Region offsets in the staging buffer (and on the device): [part][kind][layer], kinds in the order below.
    private int validAt(int l, int part) {
        return (int) (part * partBytes + l * slotsBytes);
    }

    private int slotsAt(int l, int part) {
        return (int) (part * partBytes + (layers + l) * slotsBytes);
    }

    private int blocksAt(int l, int part) {
        return (int) (part * partBytes + (2L * layers + l) * slotsBytes);
    }

    private int maskAt(int l, int part) {
        return (int) (part * partBytes + 3L * layers * slotsBytes + l * maskBytes);
    }

    private int headAt(int l, int part) {
        return (int) (part * partBytes + 3L * layers * slotsBytes + layers * maskBytes + l * headBytes);
    }

    /**
     * Moves the entries {@code i < n} with {@code keep[i]} of layer l's part to its first entries, in order (entries move
     * only to lower indexes); returns how many. With {@code heads} non-null, their head mask says which KV heads read each.
     */
    private int compact(int l, int part, int n, boolean[] keep, HeadChoice heads) {
        int slots = slotsAt(l, part);
        int valid = validAt(l, part);
        int blocks = blocksAt(l, part);
        int mask = maskAt(l, part);
        int head = headAt(l, part);
        int j = 0;
        for (int i = 0; i < n; i++) {
            if (!keep[i]) {
                continue;
            }
            changes.putInt(slots + 4 * j, staging.getInt(slots + 4 * i));
            changes.putInt(valid + 4 * j, staging.getInt(valid + 4 * i));
            changes.putInt(blocks + 4 * j, staging.getInt(blocks + 4 * i));
            if (anyMasked[l][part]) { // else every mask byte is 0 since clear
                for (int r = 0; r < blockSize; r++) {
                    changes.putByte(mask + j * blockSize + r, staging.get(mask + i * blockSize + r));
                }
            }
            if (heads != null) { // written whole below: the device's copy may hold a kernel's choice, not the staged bytes
                for (int kh = 0; kh < kvHeads; kh++) {
                    staging.put(head + j * kvHeads + kh, heads.reads(i, kh) ? (byte) 1 : 0);
                }
            }
            j++;
        }
        if (heads != null && j > 0) {
            changes.changed(head, j * kvHeads);
        }
        return j;
    }

    /** True when a row of the first {@code m} entries of the mask region at {@code maskAt} is evicted. */
    private boolean masked(int maskAt, int m) {
        for (int i = 0; i < m * blockSize; i++) {
            if (staging.get(maskAt + i) != 0) {
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

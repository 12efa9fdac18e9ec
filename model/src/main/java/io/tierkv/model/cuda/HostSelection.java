package io.tierkv.model.cuda;

import io.tierkv.cuda.ops.DigestMirror;
import io.tierkv.cuda.ops.DigestShape;
import io.tierkv.cuda.ops.PagedKvShape;
import io.tierkv.model.generate.HeadSlices;
import io.tierkv.model.generate.HostRead;
import io.tierkv.model.generate.HostReadStats;
import io.tierkv.tiering.TierManager;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * The sparse host read of {@link TieredKvStore} ({@code --host-read digest}): the block digests on the device and the choice
 * of which host blocks (or, with {@code select=head}, which KV-head slices of them) a decode step attends.
 *
 * <p>A block's digest ({@link DigestShape}: a bfloat16 box, or a code box with a sketch of every key) is computed on the
 * device from its device slot when its last row is written ({@link #filled}), at digest index {@code layer * maxBlocks +
 * block}. At each decode step and layer ({@link #select}) every host block's score for the query (the box's bound, or the
 * sketch's estimated best score) is computed on the device. Whole blocks are then chosen on the host by
 * {@link DigestMirror#rank} and {@link HostRead#choose} and the host part of the {@link BlockTables} rewritten to them.
 * Per KV head the choice stays on the device: {@link HeadSlices}' rule as a kernel ({@link StepDevice#headSlices}) writes
 * the host part's head mask directly, after {@code keys=C}'s second stage has scored the candidate slices' keys exactly
 * where they lie ({@link StepDevice#digestExact}, reading only those slices; both choices and that scoring are one launch,
 * {@link StepDevice#headSlicesExact}); the paged kernels then skip every slice not
 * chosen, and the step makes no round trip to the host (its counts come back once per step, {@link #flush}). A host block
 * without a digest (not full) scores {@code +inf} and is always read. Device memory is allocated through the
 * {@link StepDevice}, which frees it.
 */
final class HostSelection {
    private final StepDevice device;
    private final PagedKvShape shape;
    private final int maxBlocks;
    private final HostRead hostRead;
    private final long digestBytes;     // the device's digest array
    private final long digestIndexes;   // device i32 [layers][maxBlocks]: the host part's entries' digest indexes, -1 without one
    private final ByteBuffer digestIndexesHost;
    private final StagedUpload digestIndexesUpload;
    private final long fillArgs;        // device i32 [layers][2]: a block that just filled: its device slot, its digest index
    private final ByteBuffer fillHost = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
    private final long bounds;          // device fp32 [maxBlocks][heads]: this step's scores
    private final ByteBuffer boundsHost;
    private final float[] bound;        // [maxBlocks][heads]
    private final float[] rank;         // [maxBlocks]
    private final boolean[] chosen;     // [maxBlocks]
    private final boolean[][] hasDigest; // [layers][maxBlocks]
    private final boolean perHead;      // select=head: chosen on the device (StepDevice#headSlices); else whole blocks on the host
    private final long value;           // select=head: device fp32 [maxBlocks][kvHeads], the choice's scratch
    private final long exactScores;     // keys=C: device fp32 [maxBlocks][heads], the candidates' exact scores
    private final long counts;          // select=head: device i32 [layers][2], slices scored (keys=C) and read this step
    private final ByteBuffer countsHost;
    private final int[] pending;        // [layers]: host blocks of this step's choice whose counts are still on the device,
                                        // or NOTHING_TO_READ
    /** {@link #pending}'s mark of a layer with no host block this step: counted (nothing of nothing) at the flush. */
    private static final int NOTHING_TO_READ = -1;

    /** For {@code hostRead} (a digest mode, as {@link HostRead#forCuda} left it) over {@code layers x maxBlocks} blocks. */
    HostSelection(StepDevice device, PagedKvShape shape, int layers, int maxBlocks, HostRead hostRead) {
        this(device, shape, layers, maxBlocks, hostRead, 0);
    }

    /**
     * As above, the per-head choices' counts ({@code select=head}: i32 {@code [layers][2]}) at {@code countsAt} when it is not
     * 0 (a region the caller downloads with its own step's read, {@link #flush(HostReadStats, ByteBuffer, int)}), else in an
     * allocation of their own.
     */
    HostSelection(StepDevice device, PagedKvShape shape, int layers, int maxBlocks, HostRead hostRead, long countsAt) {
        this.device = device;
        this.shape = shape;
        this.maxBlocks = maxBlocks;
        this.hostRead = hostRead;
        int heads = shape.heads();
        this.digestBytes = device.digests(digestShape(shape, hostRead), Math.multiplyExact(layers, maxBlocks));
        this.digestIndexes = device.alloc(4L * layers * maxBlocks);
        this.digestIndexesHost = ByteBuffer.allocate(4 * layers * maxBlocks).order(ByteOrder.LITTLE_ENDIAN);
        this.digestIndexesUpload = new StagedUpload(device, digestIndexes, digestIndexesHost);
        this.fillArgs = device.alloc(8L * layers);
        this.bounds = device.alloc(4L * maxBlocks * heads);
        this.boundsHost = ByteBuffer.allocate(4 * maxBlocks * heads).order(ByteOrder.LITTLE_ENDIAN);
        this.bound = new float[maxBlocks * heads];
        this.rank = new float[maxBlocks];
        this.chosen = new boolean[maxBlocks];
        this.hasDigest = new boolean[layers][maxBlocks];
        this.perHead = hostRead.perHead();
        this.value = perHead ? device.alloc(4L * maxBlocks * shape.kvHeads()) : 0;
        this.exactScores = perHead && hostRead.keysFor(shape.kvHeads()) > 0 ? device.alloc(4L * maxBlocks * heads) : 0;
        this.counts = !perHead ? 0 : countsAt != 0 ? countsAt : device.alloc(8L * layers);
        this.countsHost = ByteBuffer.allocate(8 * layers).order(ByteOrder.LITTLE_ENDIAN);
        this.pending = new int[layers];
    }

    /**
     * The digests {@code hostRead} keeps for blocks of {@code kv}'s geometry; its checks (head dim a multiple of 8, parts
     * dividing the block) run before any device work.
     */
    static DigestShape digestShape(PagedKvShape kv, HostRead hostRead) {
        return new DigestShape(kv.kvHeads(), kv.headDim(), kv.blockSize(), hostRead.parts(), hostRead.bits(), hostRead.sketch());
    }

    /** Device bytes of the digest array. */
    long digestBytes() {
        return digestBytes;
    }

    /** A new sequence: no block has a digest, no count is pending. */
    void reset() {
        for (boolean[] layer : hasDigest) {
            Arrays.fill(layer, false);
        }
        Arrays.fill(pending, 0);
    }

    /** Entry i of layer l's host part is {@code block}: its digest index, or -1 while it has none. */
    void listed(int l, int i, int block) {
        digestIndexesUpload.putInt(4 * (l * maxBlocks + i), hasDigest[l][block] ? l * maxBlocks + block : -1);
    }

    /** Uploads the digest indexes {@link #listed} this token that changed since the last upload (most tokens: none). */
    void upload() {
        digestIndexesUpload.upload();
    }

    /** Computes the digest of layer l's block that just filled, from its device slot at {@code slotBase}. */
    void filled(int l, int block, long slotBase, TierManager tiers) {
        long slabBytes = (long) tiers.deviceCapacityBlocks() * shape.slotBytes();
        long offset = slotBase - tiers.deviceBaseAddress();
        if (offset < 0 || offset >= slabBytes || offset % shape.slotBytes() != 0) {
            throw new IllegalStateException("layer " + l + " block " + block + " filled outside the device tier's slots (offset " + offset + ")");
        }
        fillHost.clear();
        fillHost.putInt(0, (int) (offset / shape.slotBytes()));
        fillHost.putInt(4, l * maxBlocks + block);
        long args = fillArgs + 8L * l;
        device.upload(args, fillHost);
        device.digestUpdate(shape, tiers.deviceBaseAddress(), slabBytes, tiers.descriptor().keyOffset(0), args, args + 4, 1);
        hasDigest[l][block] = true;
    }

    /**
     * A decode step of layer l with host blocks listed: scores every host block of {@code tables}' host part for q on the
     * device and chooses. Whole blocks: the scores come back, the host ranks and chooses, and the host part is rewritten to
     * the chosen blocks; the read goes to {@code stats} at once. Per KV head ({@code select=head}): the choice is made on the
     * device ({@link StepDevice#headSlices}, with the {@code keys=C} stage's exact scores in between) and written straight
     * into the host part's head mask, with no copy back; its counts reach {@code stats} at {@link #flush}. A head slice is
     * {@code 1/K} of a block, a candidate's keys half a slice.
     */
    void select(int l, long q, float scale, BlockTables tables, TierManager tiers, HostReadStats stats) {
        int h = BlockTables.HOST;
        int n = tables.count(l, h);
        int heads = shape.heads();
        int kvHeads = shape.kvHeads();
        device.digestScore(q, heads, scale, digestIndexes + 4L * l * maxBlocks, n, bounds);
        if (perHead) {
            long mask = tables.headMaskRegion(l, h);
            long scored = counts + 8L * l;
            int keys = hostRead.keysFor(kvHeads);
            if (keys > 0) { // both stages, the candidates' keys scored in between (one launch on the GPU)
                device.headSlicesExact(shape, q, scale, bounds, n, keys, hostRead.slicesFor(kvHeads), hostRead.min(),
                        tiers.hostBaseAddress(), (long) tiers.hostCapacityBlocks() * shape.slotBytes(), tiers.descriptor().keyOffset(0),
                        tables.slots(l, h), tables.validRows(l, h), tables.mask(l, h), value, exactScores, mask, scored);
            } else {
                device.headSlices(bounds, n, heads, kvHeads, hostRead.slicesFor(kvHeads), 0, hostRead.min(), value, mask, scored + 4);
            }
            tables.chosenOnDevice(l, h);
            pending[l] = n;
            return;
        }
        boundsHost.clear().limit(4 * n * heads);
        device.download(bounds, boundsHost);
        boundsHost.asFloatBuffer().get(bound, 0, n * heads);
        DigestMirror.rank(bound, n, heads, rank);
        double read = hostRead.choose(rank, n, chosen);
        tables.keep(l, chosen, null);
        stats.add(l, read, n);
    }

    /** Whether the choice is made per KV head on the device ({@code select=head}), with no read back mid-step. */
    boolean perHead() {
        return perHead;
    }

    /** A captured step's {@link #select} of layer l over {@code n} host blocks was launched again: its counts are pending. */
    void replayed(int l, int n) {
        pending[l] = n;
    }

    /**
     * Layer l has no host block this step: the step is counted for it (nothing read of nothing) at the step's flush, once
     * however many times the step's work was recorded (a capture the driver refused runs the step again).
     */
    void nothingToRead(int l) {
        pending[l] = NOTHING_TO_READ;
    }

    /**
     * After a decode step: the per-head choices' counts, copied back in one read, go to {@code stats} (slices read, plus half
     * the candidates scored with {@code keys=C}, over K).
     */
    void flush(HostReadStats stats) {
        if (!pending()) {
            flush(stats, null, 0); // only layers with nothing to read, if any
            return;
        }
        device.download(counts, countsHost.clear());
        flush(stats, countsHost, 0);
    }

    /** Whether a per-head choice's counts are still on the device. */
    private boolean pending() {
        for (int n : pending) {
            if (n > 0) {
                return true;
            }
        }
        return false;
    }

    /**
     * {@link #flush(HostReadStats)} from the counts already copied back, at {@code offset} of {@code downloaded} (null when
     * no layer's counts are on the device).
     */
    void flush(HostReadStats stats, ByteBuffer downloaded, int offset) {
        int kvHeads = shape.kvHeads();
        boolean keys = hostRead.keysFor(kvHeads) > 0;
        for (int l = 0; l < pending.length; l++) {
            if (pending[l] > 0) {
                int scored = downloaded.getInt(offset + 8 * l);
                int kept = downloaded.getInt(offset + 8 * l + 4);
                stats.add(l, keys ? (scored + kept) / 2.0 / kvHeads : kept / (double) kvHeads, pending[l]);
            } else if (pending[l] == NOTHING_TO_READ) {
                stats.add(l, 0, 0);
            }
            pending[l] = 0;
        }
    }
}

package io.tierkv.model.cuda;

import io.tierkv.cuda.ops.DigestMirror;
import io.tierkv.cuda.ops.DigestShape;
import io.tierkv.cuda.ops.PagedKvShape;
import io.tierkv.model.generate.HeadSlices;
import io.tierkv.model.generate.HostRead;
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
 * sketch's estimated best score) is computed on the device and copied back, and the host chooses with the CPU backend's
 * rules: whole blocks by {@link DigestMirror#rank} and {@link HostRead#choose}, or per KV head by {@link HeadSlices}, whose
 * {@code keys=C} second stage scores the candidate slices' keys exactly on the device ({@link StepDevice#digestExact},
 * reading only those slices) and keeps the best. The host part of the {@link BlockTables} is then rewritten to the chosen
 * blocks, with the per-head choice as the attention kernel's head mask. A host block without a digest (not full) scores
 * {@code +inf} and is always read. Device memory is allocated through the {@link StepDevice}, which frees it.
 */
final class HostSelection {
    private final StepDevice device;
    private final PagedKvShape shape;
    private final int maxBlocks;
    private final HostRead hostRead;
    private final long digestBytes;     // the device's digest array
    private final long digestIndexes;   // device i32 [layers][maxBlocks]: the host part's entries' digest indexes, -1 without one
    private final ByteBuffer digestIndexesHost;
    private final long fillArgs;        // device i32 [layers][2]: a block that just filled: its device slot, its digest index
    private final ByteBuffer fillHost = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
    private final long bounds;          // device fp32 [maxBlocks][heads]: this step's scores
    private final ByteBuffer boundsHost;
    private final float[] bound;        // [maxBlocks][heads]
    private final float[] rank;         // [maxBlocks]
    private final boolean[] chosen;     // [maxBlocks]
    private final boolean[][] hasDigest; // [layers][maxBlocks]
    private final HeadSlices slices;    // select=head: the per-head choice; null for whole blocks
    private final BlockTables.HeadChoice headChoice; // slices::headChosen, or null
    private final BlockTables candidates; // select=head with keys=C: the candidate slices, listed as layer 0's host part
    private final long exactScores;     // device fp32 [maxBlocks][heads]: the candidates' exact scores
    private final ByteBuffer exactHost;

    /** For {@code hostRead} (a digest mode, as {@link HostRead#forCuda} left it) over {@code layers x maxBlocks} blocks. */
    HostSelection(StepDevice device, PagedKvShape shape, int layers, int maxBlocks, HostRead hostRead) {
        this.device = device;
        this.shape = shape;
        this.maxBlocks = maxBlocks;
        this.hostRead = hostRead;
        int heads = shape.heads();
        this.digestBytes = device.digests(digestShape(shape, hostRead), Math.multiplyExact(layers, maxBlocks));
        this.digestIndexes = device.alloc(4L * layers * maxBlocks);
        this.digestIndexesHost = ByteBuffer.allocate(4 * layers * maxBlocks).order(ByteOrder.LITTLE_ENDIAN);
        this.fillArgs = device.alloc(8L * layers);
        this.bounds = device.alloc(4L * maxBlocks * heads);
        this.boundsHost = ByteBuffer.allocate(4 * maxBlocks * heads).order(ByteOrder.LITTLE_ENDIAN);
        this.bound = new float[maxBlocks * heads];
        this.rank = new float[maxBlocks];
        this.chosen = new boolean[maxBlocks];
        this.hasDigest = new boolean[layers][maxBlocks];
        this.slices = hostRead.perHead() ? new HeadSlices(hostRead, heads, shape.kvHeads()) : null;
        this.headChoice = slices == null ? null : slices::headChosen;
        if (slices != null && hostRead.keysFor(shape.kvHeads()) > 0) {
            this.candidates = new BlockTables(device, 1, maxBlocks, shape.blockSize(), shape.kvHeads());
            this.exactScores = device.alloc(4L * maxBlocks * heads);
            this.exactHost = ByteBuffer.allocate(4 * maxBlocks * heads).order(ByteOrder.LITTLE_ENDIAN);
        } else {
            this.candidates = null;
            this.exactScores = 0;
            this.exactHost = null;
        }
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

    /** A new sequence: no block has a digest. */
    void reset() {
        for (boolean[] layer : hasDigest) {
            Arrays.fill(layer, false);
        }
    }

    /** Entry i of layer l's host part is {@code block}: its digest index, or -1 while it has none. */
    void listed(int l, int i, int block) {
        digestIndexesHost.putInt(4 * (l * maxBlocks + i), hasDigest[l][block] ? l * maxBlocks + block : -1);
    }

    /** Uploads the digest indexes {@link #listed} this token. */
    void upload() {
        device.upload(digestIndexes, digestIndexesHost.clear());
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
     * A decode step of layer l: scores every host block of {@code tables}' host part for q on the device, chooses on the host
     * (whole blocks, or per KV head with {@code select=head}), and keeps the chosen blocks (in view order) with their head
     * mask; returns the blocks read (a head slice is {@code 1/K} of a block, a candidate's keys half a slice).
     */
    double select(int l, long q, float scale, BlockTables tables, TierManager tiers) {
        int n = tables.count(l, BlockTables.HOST);
        int heads = shape.heads();
        int kvHeads = shape.kvHeads();
        device.digestScore(q, heads, scale, digestIndexes + 4L * l * maxBlocks, n, bounds);
        boundsHost.clear().limit(4 * n * heads);
        device.download(bounds, boundsHost);
        boundsHost.asFloatBuffer().get(bound, 0, n * heads);
        double read;
        if (slices == null) {
            DigestMirror.rank(bound, n, heads, rank);
            read = hostRead.choose(rank, n, chosen);
        } else {
            int keys = hostRead.keysFor(kvHeads);
            if (keys > 0) {
                int scored = slices.choose(bound, n, keys);
                for (int i = 0; i < n; i++) {
                    chosen[i] = slices.chosen(i);
                }
                exactScores(l, q, scale, n, tables, tiers); // bound becomes the candidates' exact scores
                int kept = slices.refine(bound, n, scored);
                read = (scored + kept) / 2.0 / kvHeads;
            } else {
                read = slices.choose(bound, n) / (double) kvHeads;
            }
            for (int i = 0; i < n; i++) {
                chosen[i] = slices.chosen(i);
            }
        }
        tables.keep(l, chosen, headChoice);
        return read;
    }

    /**
     * {@code keys=C}'s second stage on the device: the candidate slices {@link #slices} chose among layer l's {@code n} host
     * blocks ({@link #chosen}: the blocks with a candidate slice) are listed (with their KV heads as the head mask), their
     * keys scored exactly against q ({@link StepDevice#digestExact}: only the candidate slices' keys are read), and
     * {@link #bound} (n, H) is overwritten with each query head's best exact score in each block, -inf where its KV head's
     * slice is not a candidate.
     */
    private void exactScores(int l, long q, float scale, int n, BlockTables tables, TierManager tiers) {
        int heads = shape.heads();
        int m = tables.copyKept(l, chosen, headChoice, candidates);
        Arrays.fill(bound, 0, n * heads, Float.NEGATIVE_INFINITY);
        if (m == 0) {
            return;
        }
        int h = BlockTables.HOST;
        device.digestExact(shape, q, scale, tiers.hostBaseAddress(), (long) tiers.hostCapacityBlocks() * shape.slotBytes(),
                tiers.descriptor().keyOffset(0), candidates.slots(0, h), candidates.validRows(0, h), candidates.mask(0, h),
                candidates.headMask(0, h), m, exactScores);
        exactHost.clear().limit(4 * m * heads);
        device.download(exactScores, exactHost);
        java.nio.FloatBuffer scores = exactHost.asFloatBuffer();
        int j = 0;
        for (int i = 0; i < n; i++) {
            if (chosen[i]) {
                scores.get(j * heads, bound, i * heads, heads);
                j++;
            }
        }
    }
}

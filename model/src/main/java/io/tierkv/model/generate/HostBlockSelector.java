package io.tierkv.model.generate;

import io.tierkv.cuda.ops.DigestMirror;
import io.tierkv.model.llama.Tensors;
import io.tierkv.tiering.LayerView;
import io.tierkv.tiering.Sequence;
import io.tierkv.tiering.TierDefaults;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;

/**
 * Digest mode's host read for one decode query: bounds every host block's score from its {@link BlockDigests
 * digest} and keeps the {@link HostRead#blocks()} best; the decoder reads and attends only those, the rest
 * are skipped for this step.
 *
 * <p>Ranking: a block's bound is computed per query head; since softmax is invariant to a shift per head,
 * each head's bounds are taken relative to that head's best host bound, and a block ranks by
 * {@code sum_h exp(bound_h - best_h)}: the most weight one of its keys could have, relative to the best
 * host block, summed over the heads (the head-averaged attention the policy counts). A block at the top of
 * one head scores at least 1; one near the top of every head scores up to H. (Ranking by the best head
 * alone ties every head's top block at 0 and lets the block order break the tie.)
 *
 * <p>With {@link HostRead#min()} set, a block past the first {@link HostRead#SURE_BLOCKS} is read only when its
 * rank reaches it: a third block that may be at the top of one head ({@code min=1}) is worth its bytes, one that
 * can only be far below every head's best is not.
 *
 * <p>With {@code select=head} ({@link HostRead#perHead()}) each KV head has its own selection, as in Quest: a KV
 * head's value of a block is {@code log sum_h exp(bound_h - best_h)} over its query heads (its bound below its best
 * block's, in log-weight); every KV head reads its best block, and the rest of the {@link HostRead#slicesFor slices}
 * go to the (head, block) pairs of the highest value over all KV heads, so a head whose bounds are flat gets more
 * slices than one with a clear winner. The union of the blocks is gathered and each head's attention is masked to
 * its own slices ({@link #headMask}); a slice counts {@code 1/K} of a block in the bytes read.
 *
 * <p>With {@code keys=C} ({@link HostRead#keys()}) the selection has two stages: the digests choose {@code C} head
 * slices as above, their keys are scored exactly against the query (each query head's best
 * score in the block, -inf for slices not chosen), and the same per-head choice over those scores keeps the
 * {@link HostRead#slicesFor slices} read whole. The bytes read are the candidates' keys and the kept slices' values:
 * {@code (C + slices) / 2} slices.
 *
 * <p>Selected blocks are attended like device blocks, so the ones among a query's top-k are requests for
 * the placement, which promotes a host block once its requests make it worth more than the device's
 * least valuable block: recall on demand, through the one placement rule.
 */
final class HostBlockSelector {
    private final HostRead hostRead;
    private final BlockDigests digests;
    private final HostReadStats stats;
    private final int heads;
    private final int kvHeads;
    private final int headDim;
    private final int blockSize;
    private final float scale;
    /** (H) one block's bounds. */
    private final float[] bound;
    /** (hostBlocks, H) bounds of every host block, reused. */
    private float[] bounds = new float[0];
    /** (hostBlocks) ranking score, reused. */
    private float[] rank = new float[0];
    /** (hostBlocks) true for a selected view index, reused. */
    private boolean[] chosen = new boolean[0];
    /** Selected slots and blocks, in view order. */
    private int[] slots = new int[0];
    private int[] blocks = new int[0];
    /** Blocks the last {@link #select} kept. */
    private int lastCount;
    /** Per-head mode's choice ({@code select=head}). */
    private final HeadSlices slices;
    /** (selected, K) per-head mode: KV head kh reads selected block j, in the order of {@link #blocks()}. */
    private boolean[] headMask = new boolean[0];
    /** {@code keys=C}: (hostBlocks, H) each candidate block's exact best score per query head, reused. */
    private float[] exact = new float[0];
    /** {@code keys=C}: the candidate blocks' slots, view indexes and key masks (m * B), reused across steps. */
    private long[] candidateSlots = new long[0];
    private int[] candidateIndex = new int[0];
    private float[] candidateBias = new float[0];

    HostBlockSelector(HostRead hostRead, BlockDigests digests, HostReadStats stats, int heads, int kvHeads, int headDim,
                      int blockSize) {
        this.hostRead = hostRead;
        this.digests = digests;
        this.stats = stats;
        this.heads = heads;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.blockSize = blockSize;
        this.scale = (float) (1.0 / Math.sqrt(headDim));
        this.bound = new float[heads];
        this.slices = new HeadSlices(hostRead, heads, kvHeads);
    }

    /** Per-head mode: {@code (selected, K)}, true where KV head kh reads the j-th selected block; null in block mode. */
    boolean[] headMask() {
        return hostRead.perHead() ? headMask : null;
    }

    int[] slots() {
        return slots;
    }

    int[] blocks() {
        return blocks;
    }

    /**
     * Selects the host blocks of {@code view} to read for query {@code q} (H, d); returns how many, their
     * slots and blocks in {@link #slots()} and {@link #blocks()}. Without {@code keys=C} only: the keys are not read.
     */
    int select(int layer, float[] q, LayerView view) {
        return select(layer, q, view, null, null, null);
    }

    /**
     * As above; with {@code keys=C} the candidates' keys are read from {@code hostSlab} (slots, 2, B, K, d) and scored
     * against {@code qHeads} (H, d), the keys {@code seq} masks left out.
     */
    int select(int layer, float[] q, LayerView view, Tensor qHeads, Tensor hostSlab, Sequence seq) {
        int n = view.hostCount();
        ensure(n);
        for (int i = 0; i < n; i++) {
            int b = view.hostBlock(i);
            if (!digests.has(layer, b)) {
                java.util.Arrays.fill(bound, Float.POSITIVE_INFINITY); // no digest: it must be read
            } else {
                digests.score(layer, b, q, heads, scale, bound);
            }
            System.arraycopy(bound, 0, bounds, i * heads, heads);
            chosen[i] = false;
        }
        double read;
        int candidates = hostRead.keysFor(kvHeads);
        if (hostRead.perHead() && candidates > 0) {
            int scored = chooseHeads(bounds, n, candidates);
            exactScores(layer, view, qHeads, hostSlab, seq);
            int kept = refine(exact, n, scored);
            read = (scored + kept) / 2.0 / kvHeads;
        } else if (hostRead.perHead()) {
            read = chooseHeads(bounds, n) / (double) kvHeads;
        } else {
            DigestMirror.rank(bounds, n, heads, rank);
            read = hostRead.choose(rank, n, chosen);
        }
        int m = 0;
        for (int i = 0; i < n; i++) {
            if (chosen[i]) {
                slots[m] = view.hostSlot(i);
                blocks[m] = view.hostBlock(i);
                if (hostRead.perHead()) {
                    System.arraycopy(slices.headChosen(), i * kvHeads, headMask, m * kvHeads, kvHeads);
                }
                m++;
            }
        }
        stats.add(layer, read, n);
        lastCount = m;
        return m;
    }

    /**
     * Per-head selection from {@code bounds} (n, H): marks {@link #headChosen} and, for blocks any head reads,
     * {@link #chosen}; returns the head slices read. Package-private for its test.
     */
    int chooseHeads(float[] bounds, int n) {
        return chooseHeads(bounds, n, hostRead.slicesFor(kvHeads));
    }

    /**
     * {@link #chooseHeads(float[], int)} with a cap of {@code cap} slices ({@link HeadSlices#choose(float[], int, int)});
     * marks {@link #chosen} for the blocks any head reads. Package-private for its test.
     */
    int chooseHeads(float[] bounds, int n, int cap) {
        ensure(n);
        int taken = slices.choose(bounds, n, cap);
        System.arraycopy(slices.chosen(), 0, chosen, 0, n);
        return taken;
    }

    /**
     * {@code keys=C}'s second stage input, into {@link #exact} (n, H): for every view block some KV head chose in the first
     * stage, each query head's best score {@code q . k / sqrt(d)} over the block's live keys; -inf for the other blocks
     * ({@link #refine} masks the slices not chosen). Reads the candidate blocks' keys (the CPU gathers all KV heads of
     * a candidate block; the bytes counted are the candidate slices').
     */
    private void exactScores(int layer, LayerView view, Tensor qHeads, Tensor hostSlab, Sequence seq) {
        int n = view.hostCount();
        if (exact.length < n * heads) {
            exact = new float[Math.max(n * heads, exact.length * 2)];
        }
        java.util.Arrays.fill(exact, 0, n * heads, Float.NEGATIVE_INFINITY);
        int m = 0;
        for (int i = 0; i < n; i++) {
            m += chosen[i] ? 1 : 0;
        }
        if (m == 0) {
            return;
        }
        if (candidateSlots.length < m) {
            candidateSlots = new long[Math.max(m, 2 * candidateSlots.length)];
            candidateIndex = new int[candidateSlots.length];
            candidateBias = new float[candidateSlots.length * blockSize];
        }
        long[] slotIds = candidateSlots;
        int[] index = candidateIndex;
        float[] bias = candidateBias;
        int j = 0;
        for (int i = 0; i < n; i++) {
            if (!chosen[i]) {
                continue;
            }
            slotIds[j] = view.hostSlot(i);
            index[j] = i;
            for (int r = 0; r < blockSize; r++) {
                int token = view.hostBlock(i) * blockSize + r;
                bias[j * blockSize + r] = token >= seq.length() || seq.masked(layer, token) ? Float.NEGATIVE_INFINITY : 0f;
            }
            j++;
        }
        float[] s;
        try (PointerScope scope = new PointerScope()) {
            Tensor kk = hostSlab.select(1, 0).index_select(0, Tensors.fromLongsPrefix(slotIds, m, m)).view(m * blockSize, kvHeads, headDim);
            Tensor qg = qHeads.reshape(kvHeads, heads / kvHeads, headDim);                            // (K, G, d)
            s = Tensors.toFloats(qg.bmm(kk.permute(1, 2, 0)).view(heads, m, blockSize)               // (H, m, B)
                    .mul(new org.bytedeco.pytorch.Scalar(scale)).add(Tensors.fromFloatsPrefix(bias, m * blockSize, 1, m, blockSize))
                    .amax(new long[] {2}, false).contiguous());                                       // (H, m)
        }
        for (j = 0; j < m; j++) {
            for (int h = 0; h < heads; h++) {
                exact[index[j] * heads + h] = s[h * m + j];
            }
        }
    }

    /**
     * {@code keys=C}'s second stage ({@link HeadSlices#refine}): keeps {@link HostRead#slicesFor} of the {@code scored}
     * candidate slices by their exact scores {@code exact} (n, H); returns how many. Package-private for its test.
     */
    int refine(float[] exact, int n, int scored) {
        int kept = slices.refine(exact, n, scored);
        System.arraycopy(slices.chosen(), 0, chosen, 0, n);
        return kept;
    }

    /** Per-head mode: true where KV head {@code kvHead} reads view block {@code i} after {@link #chooseHeads}. */
    boolean headChosen(int i, int kvHead) {
        return slices.headChosen(i, kvHead);
    }

    /**
     * Measures the selection's recall for one query: the true top-k host positions by head-averaged attention
     * over every live host key (an exact read, for the statistics only), and how many of them lie in the
     * blocks the last {@link #select} kept. {@code hostSlab} is (slots, 2, B, K, d).
     */
    void measureRecall(int layer, Tensor q, LayerView view, Sequence seq, Tensor hostSlab) {
        int n = view.hostCount();
        if (n == 0) {
            return;
        }
        int keys = n * blockSize;
        float[] bias = new float[keys];
        long[] slotIds = new long[n];
        int liveKeys = 0;
        for (int i = 0; i < n; i++) {
            slotIds[i] = view.hostSlot(i);
            for (int r = 0; r < blockSize; r++) {
                int token = view.hostBlock(i) * blockSize + r;
                boolean dead = token >= seq.length() || seq.masked(layer, token);
                bias[i * blockSize + r] = dead ? Float.NEGATIVE_INFINITY : 0f;
                liveKeys += dead ? 0 : 1;
            }
        }
        int k = Math.min(TierDefaults.REQUEST_TOP_K, liveKeys);
        if (k == 0) {
            return;
        }
        float[] p;
        try (PointerScope scope = new PointerScope()) {
            Tensor index = Tensors.fromLongs(slotIds, n);
            Tensor kk = hostSlab.select(1, 0).index_select(0, index).view(keys, kvHeads, headDim);   // (N, K, d)
            Tensor qg = q.reshape(kvHeads, heads / kvHeads, headDim);                                 // (K, G, d)
            Tensor s = qg.bmm(kk.permute(1, 2, 0)).view(heads, keys)                                  // (H, N)
                    .mul(new org.bytedeco.pytorch.Scalar(scale)).add(Tensors.fromFloats(bias, 1, keys));
            p = Tensors.toFloats(s.softmax(-1).mean(new long[] {0}, false, new org.bytedeco.pytorch.ScalarTypeOptional()));
        }
        // The share of query heads whose KV head read each selected block (1 for every selected block in block mode).
        java.util.Map<Integer, Double> selectedBlocks = new java.util.HashMap<>();
        int group = heads / kvHeads;
        for (int i = 0; i < lastCount; i++) {
            double share = 1;
            if (hostRead.perHead()) {
                int readers = 0;
                for (int kh = 0; kh < kvHeads; kh++) {
                    readers += headMask[i * kvHeads + kh] ? group : 0;
                }
                share = readers / (double) heads;
            }
            selectedBlocks.put(blocks[i], share);
        }
        double hits = 0;
        boolean[] taken = new boolean[keys];
        for (int j = 0; j < k; j++) {
            int arg = -1;
            for (int c = 0; c < keys; c++) {
                if (!taken[c] && bias[c] == 0f && (arg < 0 || p[c] > p[arg])) {
                    arg = c;
                }
            }
            taken[arg] = true;
            hits += selectedBlocks.getOrDefault(view.hostBlock(arg / blockSize), 0.0);
        }
        stats.addRecall(layer, hits, k);
    }

    private void ensure(int n) {
        if (rank.length < n) {
            int c = Math.max(n, rank.length * 2);
            rank = new float[c];
            chosen = new boolean[c];
            slots = new int[c];
            blocks = new int[c];
            bounds = new float[c * heads];
            headMask = new boolean[c * kvHeads];
        }
    }
}

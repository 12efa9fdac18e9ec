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
    }

    int[] slots() {
        return slots;
    }

    int[] blocks() {
        return blocks;
    }

    /**
     * Selects the host blocks of {@code view} to read for query {@code q} (H, d); returns how many, their
     * slots and blocks in {@link #slots()} and {@link #blocks()}.
     */
    int select(int layer, float[] q, LayerView view) {
        int n = view.hostCount();
        ensure(n);
        for (int i = 0; i < n; i++) {
            int b = view.hostBlock(i);
            if (!digests.has(layer, b)) {
                java.util.Arrays.fill(bound, Float.POSITIVE_INFINITY); // no digest: it must be read
            } else {
                digests.bound(layer, b, q, heads, scale, bound);
            }
            System.arraycopy(bound, 0, bounds, i * heads, heads);
            chosen[i] = false;
        }
        DigestMirror.rank(bounds, n, heads, rank);
        hostRead.choose(rank, n, chosen);
        int m = 0;
        for (int i = 0; i < n; i++) {
            if (chosen[i]) {
                slots[m] = view.hostSlot(i);
                blocks[m] = view.hostBlock(i);
                m++;
            }
        }
        stats.add(layer, m, n);
        lastCount = m;
        return m;
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
        java.util.Set<Integer> selectedBlocks = new java.util.HashSet<>();
        for (int i = 0; i < lastCount; i++) {
            selectedBlocks.add(blocks[i]);
        }
        int hits = 0;
        boolean[] taken = new boolean[keys];
        for (int j = 0; j < k; j++) {
            int arg = -1;
            for (int c = 0; c < keys; c++) {
                if (!taken[c] && bias[c] == 0f && (arg < 0 || p[c] > p[arg])) {
                    arg = c;
                }
            }
            taken[arg] = true;
            if (selectedBlocks.contains(view.hostBlock(arg / blockSize))) {
                hits++;
            }
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
        }
    }
}

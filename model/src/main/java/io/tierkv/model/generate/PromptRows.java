package io.tierkv.model.generate;

import io.tierkv.core.placement.PlacementConfig;
import io.tierkv.core.policy.KvPolicy;
import io.tierkv.core.popularity.PopularityCounter;
import io.tierkv.core.popularity.PopularityCounters;
import io.tierkv.tiering.Sequence;
import io.tierkv.tiering.TierDefaults;

/**
 * The prompt rows whose attention a tiered prefill reads, and what they are read for: the last
 * {@link KvPolicy#prefillRows} rows go to the policy ({@link Sequence#observe}), and the top-k positions of the last
 * {@link PlacementConfig#priorQueries} rows, counted per block, seed the placement ({@link Sequence#prior}). The CPU's
 * dense prefill ({@link TieredDecoder}) and the CUDA decoder's tiered store, which reads these rows token by token, read
 * the same rows for the same purposes through this one plan.
 *
 * <p>In chunked mode ({@link #everyRow}) a policy that reads attention observes every prompt row, and nothing seeds the
 * placement. Rows are given in any order, each once; {@link #seed} hands the prior over.
 */
public final class PromptRows {
    private final int length;       // prompt tokens
    private final int policyFrom;   // the first row the policy observes; length when none
    private final int priorFrom;    // the first row whose top-k seeds the placement; length when none
    private final int heads;
    private final int blockSize;
    private final int[][] prior;    // (layers, prompt blocks) top-k positions of the prior rows per block; null without
    private final int[] top = new int[TierDefaults.REQUEST_TOP_K];
    private final PopularityCounter counter = PopularityCounters.java();

    private PromptRows(int length, int policyFrom, int priorFrom, int layers, int heads, int blockSize) {
        this.length = length;
        this.policyFrom = policyFrom;
        this.priorFrom = priorFrom;
        this.heads = heads;
        this.blockSize = blockSize;
        this.prior = priorFrom < length ? new int[layers][(length + blockSize - 1) / blockSize] : null;
    }

    /** The paper's prefill: the rows {@code policy} asks for, and the placement's prior queries. */
    public static PromptRows dense(KvPolicy policy, int length, int layers, int heads, int blockSize) {
        return new PromptRows(length, length - Math.min(length, policy.prefillRows(length)),
                length - PlacementConfig.priorQueries(length), layers, heads, blockSize);
    }

    /** Chunked mode: every row to a policy that reads attention, none to the placement. */
    public static PromptRows everyRow(KvPolicy policy, int length, int layers, int heads, int blockSize) {
        return new PromptRows(length, policy.observesAttention() ? 0 : length, length, layers, heads, blockSize);
    }

    /**
     * The prompt queries a dense prefill keeps ({@link #dense}'s rows: the last {@code promptLength - first()}); a prefill
     * after a loaded prefix must compute at least these.
     */
    public static int queryRows(KvPolicy policy, int promptLength) {
        return Math.min(promptLength, Math.max(policy.prefillRows(promptLength), PlacementConfig.priorQueries(promptLength)));
    }

    /** Prompt tokens. */
    public int length() {
        return length;
    }

    /** The first row read (for either purpose); {@link #length} when none is. */
    public int first() {
        return Math.min(policyFrom, priorFrom);
    }

    /** The first row the policy observes. */
    public int policyFrom() {
        return policyFrom;
    }

    /** The first row that seeds the placement. */
    public int priorFrom() {
        return priorFrom;
    }

    /** Whether the row at {@code position} is read. */
    public boolean reads(int position) {
        return position >= first() && position < length;
    }

    /**
     * Counts one prior row's top-k positions toward their blocks; rows before {@link #priorFrom} count nothing. The row is
     * {@code heads} rows of its {@code position + 1} probabilities, {@code stride} apart from {@code offset}.
     */
    public void countPrior(int layer, int position, float[] probs, int offset, int stride) {
        if (position < priorFrom || position >= length) {
            return;
        }
        countPrior(layer, position, top, counter.selectTopK(probs, offset, heads, stride, position + 1, top.length, top));
    }

    /**
     * As above, from the row's top-{@link #topK()} positions already selected (by the device's top-k, whose head sum ranks
     * as the head average does): {@code positions[0, n)}, in any order.
     */
    public void countPrior(int layer, int position, int[] positions, int n) {
        if (position < priorFrom || position >= length) {
            return;
        }
        for (int i = 0; i < n; i++) {
            prior[layer][positions[i] / blockSize]++;
        }
    }

    /** How many positions of a row count toward the prior: the placement's request top-k. */
    public static int topK() {
        return TierDefaults.REQUEST_TOP_K;
    }

    /** Whether the policy observes the row at {@code position} (it then needs the row's probabilities, not only its top-k). */
    public boolean observes(int position) {
        return position >= policyFrom && position < length;
    }

    /** Shows the policy one prompt row it asked for (laid out as in {@link #countPrior}); other rows are ignored. */
    public void observe(Sequence seq, int layer, int position, float[] probs, int offset, int stride) {
        if (observes(position)) {
            seq.observe(layer, position, probs, offset, heads, stride, position + 1);
        }
    }

    /** Both of the above. */
    public void read(Sequence seq, int layer, int position, float[] probs, int offset, int stride) {
        countPrior(layer, position, probs, offset, stride);
        observe(seq, layer, position, probs, offset, stride);
    }

    /** Gives the counted prior to {@code seq} (before its prompt blocks are placed); nothing without prior rows. */
    public void seed(Sequence seq) {
        if (prior != null) {
            seq.prior(prior);
        }
    }
}

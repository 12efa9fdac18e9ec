package io.tierkv.core.policy;

import io.tierkv.core.Level;
import io.tierkv.core.Transitions;
import io.tierkv.core.popularity.FastPopularityCounter;
import java.util.Arrays;

/**
 * Heavy hitters plus recent tokens: H2O (Zhang et al., "H2O: Heavy-Hitter Oracle for Efficient
 * Generative Inference of Large Language Models", NeurIPS 2023; FMInference/H2O). Each token's score
 * is the attention it has received, summed over every query observed so far (the whole prompt and
 * every generated token) and over heads. The budget is split into {@code heavy} (fraction of the
 * budget, default half) and recent; whenever a layer holds more than the budget, the non-recent token
 * with the lowest score goes (the older one on ties).
 *
 * <p>Deviation from the original: scores are summed over heads and one set is kept per layer, as in
 * {@link SnapKvPolicy}, because a block holds all heads.
 */
public final class H2oPolicy extends AbstractKvPolicy {
    static final double DEFAULT_HEAVY = 0.5;

    private final String name;
    private final double heavyFraction;
    private int recent;
    /** (layer, token) accumulated attention. */
    private float[][] score;

    public H2oPolicy(double heavyFraction) {
        this("h2o", heavyFraction);
    }

    private H2oPolicy(String name, double heavyFraction) {
        if (!(heavyFraction > 0 && heavyFraction < 1)) {
            throw new IllegalArgumentException("h2o: heavy must be in (0, 1), was " + heavyFraction);
        }
        this.name = name;
        this.heavyFraction = heavyFraction;
    }

    static KvPolicy create(PolicyOptions options) {
        double heavy = options.getDouble("heavy", DEFAULT_HEAVY);
        options.finish();
        String spec = options.toString();
        return new H2oPolicy(spec.isEmpty() ? "h2o" : "h2o:" + spec, heavy);
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    protected void onStart(int capacity) {
        score = new float[layers][capacity];
        if (context.bounded()) {
            int heavy = (int) Math.floor(context.budgetTokens() * heavyFraction);
            recent = context.budgetTokens() - heavy;
            if (heavy < 1 || recent < 1) {
                throw new IllegalArgumentException("h2o: a budget of " + context.budgetTokens()
                        + " tokens cannot hold both heavy hitters and recent tokens");
            }
        }
    }

    @Override
    protected void onGrow(int capacity) {
        for (int l = 0; l < layers; l++) {
            score[l] = Arrays.copyOf(score[l], capacity);
        }
    }

    @Override
    public int prefillRows(int promptLength) {
        return Integer.MAX_VALUE;
    }

    @Override
    public void observe(int layer, int queryPosition, float[] probs, int offset, int heads, int stride, int keys) {
        float[] s = score[layer];
        int n = Math.min(keys, length);
        for (int h = 0; h < heads; h++) {
            int row = offset + h * stride;
            for (int t = 0; t < n; t++) {
                s[t] += probs[row + t];
            }
        }
    }

    /** Each selected key gains one unit of attention (a trace keeps which keys won, not how much). */
    @Override
    public void observeSelected(int layer, int[] positions, int n) {
        checkSelected(layer, positions, n);
        float[] s = score[layer];
        for (int i = 0; i < n; i++) {
            s[positions[i]] += 1f;
        }
    }

    @Override
    public void endPrefill(Transitions out) {
        if (!context.bounded()) {
            return;
        }
        int candidates = length - recent;
        int heavy = context.budgetTokens() - recent;
        if (candidates <= heavy) {
            return;
        }
        int[] kept = new int[heavy];
        // Ranked newest first, so that select()'s lower-position tie rule keeps the newer token and evicts
        // the older, as step() does; tokens already evicted (chunked prefill) rank last, never "kept".
        float[] ranked = new float[candidates];
        FastPopularityCounter selector = new FastPopularityCounter(false);
        for (int l = 0; l < layers; l++) {
            for (int t = 0; t < candidates; t++) {
                ranked[candidates - 1 - t] = levels[l][t] == Level.EVICT_CODE ? Float.NEGATIVE_INFINITY : score[l][t];
            }
            int n = selector.select(ranked, candidates, heavy, kept);
            int next = n - 1; // kept[] ascends in ranked order, so it descends in positions
            for (int t = 0; t < candidates; t++) {
                if (next >= 0 && candidates - 1 - kept[next] == t) {
                    next--;
                } else {
                    evict(l, t, out);
                }
            }
        }
    }

    @Override
    public void step(Transitions out) {
        if (!context.bounded()) {
            return;
        }
        int candidates = length - recent;
        for (int l = 0; l < layers; l++) {
            while (live[l] > context.budgetTokens()) {
                int victim = lowest(l, candidates);
                if (victim < 0) {
                    break;
                }
                evict(l, victim, out);
            }
        }
    }

    private int lowest(int layer, int candidates) {
        byte[] lv = levels[layer];
        float[] s = score[layer];
        int best = -1;
        float bestScore = Float.POSITIVE_INFINITY;
        for (int t = 0; t < candidates; t++) {
            if (lv[t] != Level.EVICT_CODE && s[t] < bestScore) {
                best = t;
                bestScore = s[t];
            }
        }
        return best;
    }

    /** Accumulated score of one token, for tests. */
    public float score(int layer, int token) {
        return score[layer][token];
    }

    @Override
    public int heat(int layer, int token) {
        return (int) Math.min(Integer.MAX_VALUE, score[layer][token] * 1000);
    }
}

package io.tierkv.core.policy;

import io.tierkv.core.Transitions;
import io.tierkv.core.popularity.FastPopularityCounter;
import java.util.Arrays;

/**
 * SnapKV (Li et al., "SnapKV: LLM Knows What You are Looking for Before Generation", NeurIPS 2024;
 * FasterDecoding/SnapKV {@code snapkv_utils.py}): the last {@code window} prompt queries (the
 * observation window) vote with their attention for the earlier prompt tokens; the votes are pooled
 * over neighbouring positions ({@code kernel}, max or avg pooling) and the best
 * {@code budget - window} tokens are kept with the window itself. Generated tokens are all kept.
 *
 * <p>Deviation from the original: SnapKV selects per KV head; here the votes are summed over heads and
 * one set is kept per layer, because a TierKV block holds all heads of its tokens. Its blind spot, which
 * the hierarchical paper points out, is a question placed before the passage: the observation window
 * then sits in the passage and does not know what will be asked.
 */
public final class SnapKvPolicy extends AbstractKvPolicy {
    static final int DEFAULT_WINDOW = 32;
    static final int DEFAULT_KERNEL = 5;

    private final String name;
    private final int window;
    private final int kernel;
    private final boolean maxPool;
    /** (layer, token) votes of the observation window. */
    private float[][] votes;
    private boolean prefillDone;

    public SnapKvPolicy(int window, int kernel, boolean maxPool) {
        this("snapkv", window, kernel, maxPool);
    }

    private SnapKvPolicy(String name, int window, int kernel, boolean maxPool) {
        if (window <= 0) {
            throw new IllegalArgumentException("snapkv: window must be > 0, was " + window);
        }
        if (kernel <= 0 || kernel % 2 == 0) {
            throw new IllegalArgumentException("snapkv: kernel must be odd and > 0, was " + kernel);
        }
        this.name = name;
        this.window = window;
        this.kernel = kernel;
        this.maxPool = maxPool;
    }

    static KvPolicy create(PolicyOptions options) {
        int w = options.getInt("window", DEFAULT_WINDOW);
        int k = options.getInt("kernel", DEFAULT_KERNEL);
        String pool = options.getString("pool", "max");
        options.finish();
        if (!pool.equals("max") && !pool.equals("avg")) {
            throw new IllegalArgumentException("snapkv: pool must be max or avg, was " + pool);
        }
        String spec = options.toString();
        return new SnapKvPolicy(spec.isEmpty() ? "snapkv" : "snapkv:" + spec, w, k, pool.equals("max"));
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    protected void onStart(int capacity) {
        votes = new float[layers][Math.max(1, context.promptLength())];
        if (context.bounded() && context.promptLength() > context.budgetTokens() && context.budgetTokens() <= window) {
            throw new IllegalArgumentException("snapkv: a budget of " + context.budgetTokens()
                    + " tokens does not exceed the observation window of " + window);
        }
    }

    @Override
    public int prefillRows(int promptLength) {
        return Math.min(window, promptLength);
    }

    @Override
    public void observe(int layer, int queryPosition, float[] probs, int offset, int heads, int stride, int keys) {
        int prompt = context.promptLength();
        if (prefillDone || queryPosition < prompt - window) {
            return;
        }
        float[] v = votes[layer];
        int n = Math.min(keys, prompt);
        for (int h = 0; h < heads; h++) {
            int row = offset + h * stride;
            for (int t = 0; t < n; t++) {
                v[t] += probs[row + t];
            }
        }
    }

    @Override
    public void endPrefill(Transitions out) {
        prefillDone = true;
        int prompt = Math.min(context.promptLength(), length);
        if (!context.bounded() || prompt <= context.budgetTokens()) {
            return;
        }
        int candidates = prompt - window;
        int keep = context.budgetTokens() - window;
        float[] pooled = new float[candidates];
        int[] kept = new int[keep];
        FastPopularityCounter selector = new FastPopularityCounter(false);
        for (int l = 0; l < layers; l++) {
            pool(votes[l], candidates, pooled);
            int n = selector.select(pooled, candidates, keep, kept);
            int next = 0;
            for (int t = 0; t < candidates; t++) {
                if (next < n && kept[next] == t) {
                    next++;
                } else {
                    evict(l, t, out);
                }
            }
        }
    }

    /** 1-D pooling with stride 1 and "same" padding, as {@code F.max_pool1d / avg_pool1d(kernel, padding=kernel/2)}. */
    private void pool(float[] in, int n, float[] out) {
        int half = kernel / 2;
        for (int t = 0; t < n; t++) {
            int lo = Math.max(0, t - half);
            int hi = Math.min(n - 1, t + half);
            float acc = maxPool ? Float.NEGATIVE_INFINITY : 0f;
            for (int i = lo; i <= hi; i++) {
                acc = maxPool ? Math.max(acc, in[i]) : acc + in[i];
            }
            // avg_pool1d counts the zero padding (count_include_pad=True).
            out[t] = maxPool ? acc : acc / kernel;
        }
    }

    @Override
    public void step(Transitions out) {
    }

    /** The pooled votes of one layer, for tests. */
    float[] votes(int layer) {
        return Arrays.copyOf(votes[layer], votes[layer].length);
    }
}

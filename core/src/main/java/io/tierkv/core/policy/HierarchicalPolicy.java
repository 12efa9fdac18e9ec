package io.tierkv.core.policy;

import io.tierkv.core.Transitions;
import io.tierkv.core.placement.TierMode;
import java.util.Arrays;

/**
 * The hierarchical KV-cache policy of Dela Rosa and Li, "Hierarchical KV Cache Compression for LLMs"
 * (2025), inspired by S3-FIFO and multi-level feedback queues: each query step the top-k keys of each
 * layer's head-averaged attention gain a count; every {@code window} steps each token moves one level
 * toward CACHE, NORMAL, LOW or EVICT according to its count (see {@link LevelStateMachine}).
 *
 * <p>Unlike attention sinks or SnapKV it has no fixed idea of where important tokens are: a passage
 * token the answer keeps returning to stays, wherever it sits. The price is that a token must go
 * unattended for two windows (NORMAL to LOW to EVICT) before it is evicted, so it compresses slowly.
 * Device residency under a budget is the tier manager's business, ordered by {@link #heat}.
 */
public final class HierarchicalPolicy extends AbstractKvPolicy {
    private final HierarchicalConfig config;
    private final LevelStateMachine machine;
    private final String name;
    /** (layer, token) counts in the current window. */
    private int[][] counts;
    /** (layer, token) counts of the last closed window, for {@link #heat}. */
    private int[][] lastCounts;
    /** (token) the step at which each token arrived. */
    private int[] birth;
    /** (layer) queries observed in the current window: no count can exceed it. */
    private int[] observed;
    /**
     * (layer, i) the tokens whose count left 0 in the current window, and in the last one: a close zeroes the
     * counts of those instead of whole rows, so resetting costs what the window touched, not the sequence.
     */
    private int[][] touched;
    private int[][] lastTouched;
    /** (layer) entries of {@link #touched} and {@link #lastTouched}. */
    private int[] touchedCount;
    private int[] lastTouchedCount;
    /** (k) scratch for the counter's output. */
    private int[] selected;
    private int steps;

    public HierarchicalPolicy(HierarchicalConfig config) {
        this(config, "hierarchical");
    }

    HierarchicalPolicy(HierarchicalConfig config, String name) {
        this.config = config;
        this.machine = new LevelStateMachine(config);
        this.name = name;
    }

    static KvPolicy create(PolicyOptions options) {
        HierarchicalConfig paper = HierarchicalConfig.paper();
        HierarchicalConfig config = new HierarchicalConfig(
                options.getInt("cache", paper.cacheMin()),
                options.getInt("normal", paper.normalMin()),
                options.getInt("low", paper.lowMin()),
                options.getInt("window", paper.window()),
                options.getInt("k", paper.topK()));
        options.finish();
        String spec = options.toString();
        return new HierarchicalPolicy(config, spec.isEmpty() ? "hierarchical" : "hierarchical:" + spec);
    }

    public HierarchicalConfig config() {
        return config;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    protected void onStart(int capacity) {
        counts = new int[layers][capacity];
        lastCounts = new int[layers][capacity];
        birth = new int[capacity];
        observed = new int[layers];
        selected = new int[config.topK()];
        touched = new int[layers][64];
        lastTouched = new int[layers][64];
        touchedCount = new int[layers];
        lastTouchedCount = new int[layers];
    }

    @Override
    protected void onGrow(int capacity) {
        for (int l = 0; l < layers; l++) {
            counts[l] = Arrays.copyOf(counts[l], capacity);
            lastCounts[l] = Arrays.copyOf(lastCounts[l], capacity);
        }
        birth = Arrays.copyOf(birth, capacity);
    }

    /**
     * Tokens appended together are born one step apart, as if fed one at a time (and never before the token ahead
     * of them): in chunked mode the chunk's steps follow its append, and its last token has been seen by one query,
     * not a window of them, when that window closes. {@link #endPrefill} brings births that no step followed back to the present.
     */
    @Override
    protected void onAppend(int first, int count) {
        // Never before the token ahead of it (tokens appended again before their predecessors' steps were taken),
        // so births never decrease along the sequence: the window close finds the tokens old enough by one search.
        int floor = first == 0 ? 0 : birth[first - 1];
        for (int i = 0; i < count; i++) {
            birth[first + i] = Math.max(steps + i, floor);
        }
    }

    @Override
    public void observe(int layer, int queryPosition, float[] probs, int offset, int heads, int stride, int keys) {
        if (keys > length) {
            // Counts on positions not yet appended would be inherited by the tokens that arrive there.
            throw new IllegalArgumentException(name + ": observe() got " + keys + " keys but only " + length + " tokens exist");
        }
        int n = context.counter().selectTopK(probs, offset, heads, stride, keys, config.topK(), selected);
        countSelected(layer, selected, n);
    }

    @Override
    public int observedTopK() {
        return config.topK();
    }

    /** Counts already selected keys (a trace's top-k, or the caller's selection), one query of this layer. */
    @Override
    public void observeSelected(int layer, int[] positions, int n) {
        checkSelected(layer, positions, n);
        countSelected(layer, positions, n);
    }

    private void countSelected(int layer, int[] positions, int n) {
        int[] c = counts[layer];
        for (int i = 0; i < n; i++) {
            int t = positions[i];
            if (c[t]++ == 0) {
                if (touchedCount[layer] == touched[layer].length) {
                    touched[layer] = Arrays.copyOf(touched[layer], touchedCount[layer] * 2);
                }
                touched[layer][touchedCount[layer]++] = t;
            }
        }
        observed[layer]++;
    }

    @Override
    public void endPrefill(Transitions out) {
        // A dense prefill takes no steps: its whole prompt is born at the first generated step.
        for (int t = 0; t < length; t++) {
            birth[t] = Math.min(birth[t], steps);
        }
    }

    @Override
    public void step(Transitions out) {
        steps++;
        if (steps % config.window() == 0) {
            closeWindow(out);
        }
    }

    @Override
    protected TierMode defaultTierMode() {
        return TierMode.TIER;
    }

    private void closeWindow(Transitions out) {
        boolean revive = tierMode() == TierMode.TIER;
        for (int l = 0; l < layers; l++) {
            live[l] -= machine.closeWindow(l, levels[l], counts[l], birth, length, steps, revive, out);
            int[] last = lastCounts[l];
            int[] stale = lastTouched[l];
            for (int i = 0, n = lastTouchedCount[l]; i < n; i++) {
                last[stale[i]] = 0;
            }
            lastCounts[l] = counts[l];
            counts[l] = last;
            lastTouched[l] = touched[l];
            lastTouchedCount[l] = touchedCount[l];
            touched[l] = stale;
            touchedCount[l] = 0;
            observed[l] = 0;
        }
        if (DEBUG) {
            checkInvariants();
        }
    }

    /** Steps taken (query steps observed). */
    public int steps() {
        return steps;
    }

    /** The current window's count of one token (for tests and plots). */
    public int count(int layer, int token) {
        return counts[layer][token];
    }

    /** Last window's count plus the current one: bigger is hotter among tokens of one level. */
    @Override
    public int heat(int layer, int token) {
        return lastCounts[layer][token] + counts[layer][token];
    }

    @Override
    public void checkInvariants() {
        super.checkInvariants();
        for (int t = 1; t < length; t++) {
            if (birth[t] < birth[t - 1]) {
                // the window close finds the tokens old enough to judge by one search over births in token order
                throw new IllegalStateException(name + ": token " + t + " was born at step " + birth[t] + ", before token " + (t - 1)
                        + " (" + birth[t - 1] + ")");
            }
        }
        for (int l = 0; l < layers; l++) {
            for (int t = 0; t < length; t++) {
                if (counts[l][t] < 0 || counts[l][t] > observed[l]) {
                    throw new IllegalStateException(name + ": layer " + l + " token " + t + " has count " + counts[l][t]
                            + " after " + observed[l] + " queries in this window");
                }
            }
        }
    }
}

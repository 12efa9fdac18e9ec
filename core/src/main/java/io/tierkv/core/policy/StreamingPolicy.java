package io.tierkv.core.policy;

import io.tierkv.core.Transitions;

/**
 * Attention sinks plus a recent window: StreamingLLM (Xiao et al., "Efficient Streaming Language Models
 * with Attention Sinks", ICLR 2024; mit-han-lab/streaming-llm {@code StartRecentKVCache}). The first
 * {@code sinks} tokens and the last {@code window} tokens are kept; everything between is evicted as
 * soon as it leaves the window, in every layer alike.
 *
 * <p>Presets: {@code streaming-paper} is the hierarchical paper's 32 sinks + 256 window,
 * {@code streaming-original} StreamingLLM's 4 + 512. Plain {@code streaming} keeps 4 sinks and sizes
 * the window to the budget ({@code budget - sinks}), or 512 without a budget.
 */
public final class StreamingPolicy extends AbstractKvPolicy {
    static final int ORIGINAL_SINKS = 4;
    static final int ORIGINAL_WINDOW = 512;
    static final int PAPER_SINKS = 32;
    static final int PAPER_WINDOW = 256;
    /** Window size meaning "fill the budget". */
    static final int FROM_BUDGET = -1;

    private final String name;
    private final int sinks;
    private final int requestedWindow;
    private int window;
    /** Positions in {@code [sinks, evictedBelow)} are already evicted. */
    private int evictedBelow;

    public StreamingPolicy(int sinks, int window) {
        this("streaming", sinks, window);
    }

    private StreamingPolicy(String name, int sinks, int window) {
        if (sinks < 0) {
            throw new IllegalArgumentException("streaming: sinks must be >= 0, was " + sinks);
        }
        if (window <= 0 && window != FROM_BUDGET) {
            throw new IllegalArgumentException("streaming: window must be > 0, was " + window);
        }
        this.name = name;
        this.sinks = sinks;
        this.requestedWindow = window;
    }

    static KvPolicy create(PolicyOptions options) {
        return create("streaming", options, ORIGINAL_SINKS, FROM_BUDGET);
    }

    static KvPolicy createPaper(PolicyOptions options) {
        return create("streaming-paper", options, PAPER_SINKS, PAPER_WINDOW);
    }

    static KvPolicy createOriginal(PolicyOptions options) {
        return create("streaming-original", options, ORIGINAL_SINKS, ORIGINAL_WINDOW);
    }

    private static KvPolicy create(String base, PolicyOptions options, int sinks, int window) {
        int s = options.getInt("sinks", sinks);
        int w = options.getInt("window", window);
        options.finish();
        String spec = options.toString();
        return new StreamingPolicy(spec.isEmpty() ? base : base + ":" + spec, s, w);
    }

    @Override
    public String name() {
        return name;
    }

    public int sinks() {
        return sinks;
    }

    /** The window in effect once started. */
    public int window() {
        return window;
    }

    @Override
    protected void onStart(int capacity) {
        if (requestedWindow != FROM_BUDGET) {
            window = requestedWindow;
        } else if (context.bounded()) {
            window = context.budgetTokens() - sinks;
            if (window <= 0) {
                throw new IllegalArgumentException("streaming: a budget of " + context.budgetTokens()
                        + " tokens leaves no room for a window after " + sinks + " sinks");
            }
        } else {
            window = ORIGINAL_WINDOW;
        }
        evictedBelow = sinks;
    }

    @Override
    public boolean observesAttention() {
        return false;
    }

    @Override
    public void observe(int layer, int queryPosition, float[] probs, int offset, int heads, int stride, int keys) {
    }

    @Override
    public void endPrefill(Transitions out) {
        slide(out);
    }

    @Override
    public void step(Transitions out) {
        slide(out);
    }

    private void slide(Transitions out) {
        int limit = length - window;
        for (int t = evictedBelow; t < limit; t++) {
            for (int l = 0; l < layers; l++) {
                evict(l, t, out);
            }
        }
        evictedBelow = Math.max(evictedBelow, limit);
    }

    @Override
    public void checkInvariants() {
        super.checkInvariants();
        int expected = Math.min(length, sinks) + Math.min(window, Math.max(0, length - sinks));
        for (int l = 0; l < layers; l++) {
            if (live[l] < expected) {
                throw new IllegalStateException(name + ": layer " + l + " keeps " + live[l] + " tokens, fewer than " + expected);
            }
        }
    }
}

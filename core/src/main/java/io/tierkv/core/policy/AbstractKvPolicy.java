package io.tierkv.core.policy;

import io.tierkv.core.Level;
import io.tierkv.core.Transitions;
import io.tierkv.core.placement.TierMode;
import java.util.Arrays;

/**
 * Shared bookkeeping of every policy: the level of each token in each layer, the sequence length and
 * the live count per layer. Subclasses decide; this class records and checks.
 */
abstract class AbstractKvPolicy implements KvPolicy {
    /** Debug checks after every operation, {@code -Dtierkv.debug=true}. */
    static final boolean DEBUG = Boolean.getBoolean("tierkv.debug");

    protected PolicyContext context;
    protected int layers;
    /** (layer, token) level codes, capacity grows by doubling. */
    protected byte[][] levels;
    /** (layer) tokens not evicted. */
    protected int[] live;
    protected int length;
    private TierMode tierMode = defaultTierMode();

    /** The tier mode when the spec names none: drop for the compression baselines. */
    protected TierMode defaultTierMode() {
        return TierMode.DROP;
    }

    /** Sets the tier mode ({@code mode=} option); only before {@link #start}. */
    final void tierMode(TierMode mode) {
        if (context != null) {
            throw new IllegalStateException(name() + ": tier mode set after start()");
        }
        this.tierMode = mode;
    }

    @Override
    public final TierMode tierMode() {
        return tierMode;
    }

    @Override
    public void start(PolicyContext context) {
        if (this.context != null) {
            throw new IllegalStateException(name() + ": start() called twice");
        }
        this.context = context;
        this.layers = context.layers();
        int capacity = Math.max(64, context.promptLength() + 64);
        this.levels = new byte[layers][capacity];
        this.live = new int[layers];
        onStart(capacity);
    }

    /** Called once from {@link #start}, with the initial per-layer capacity. */
    protected void onStart(int capacity) {
    }

    /** Called when the per-layer capacity grows; subclasses grow their own arrays. */
    protected void onGrow(int capacity) {
    }

    @Override
    public void append(int count) {
        requireStarted();
        if (count <= 0) {
            throw new IllegalArgumentException("append count must be > 0, was " + count);
        }
        int needed = length + count;
        if (needed > levels[0].length) {
            int capacity = Math.max(needed, levels[0].length * 2);
            for (int l = 0; l < layers; l++) {
                levels[l] = Arrays.copyOf(levels[l], capacity);
            }
            onGrow(capacity);
        }
        for (int l = 0; l < layers; l++) {
            Arrays.fill(levels[l], length, needed, Level.NORMAL_CODE);
            live[l] += count;
        }
        int first = length;
        length = needed;
        onAppend(first, count);
    }

    /** Called after {@code count} tokens arrived at {@code first}. */
    protected void onAppend(int first, int count) {
    }

    @Override
    public byte level(int layer, int token) {
        if (token < 0 || token >= length) {
            throw new IndexOutOfBoundsException("token " + token + " of " + length);
        }
        return levels[layer][token];
    }

    @Override
    public int length() {
        return length;
    }

    @Override
    public int liveTokens(int layer) {
        return live[layer];
    }

    /** Checks that pre-selected positions are strictly ascending keys of this sequence. */
    protected final void checkSelected(int layer, int[] positions, int n) {
        if (layer < 0 || layer >= layers) {
            throw new IndexOutOfBoundsException(name() + ": layer " + layer + " of " + layers);
        }
        int previous = -1;
        for (int i = 0; i < n; i++) {
            int p = positions[i];
            if (p <= previous || p >= length) {
                throw new IllegalArgumentException(name() + ": selected position " + p + " at index " + i
                        + " is not ascending within [0, " + length + ")");
            }
            previous = p;
        }
    }

    /** Moves a token to {@code to}, recording the transition. */
    protected final void move(int layer, int token, byte to, Transitions out) {
        byte from = levels[layer][token];
        if (from == to) {
            return;
        }
        if (from == Level.EVICT_CODE) {
            if (tierMode == TierMode.DROP) {
                throw new IllegalStateException(name() + ": token " + token + " of layer " + layer + " is evicted and cannot move to "
                        + Level.of(to));
            }
            live[layer]++;
        }
        levels[layer][token] = to;
        if (to == Level.EVICT_CODE) {
            live[layer]--;
        }
        out.add(layer, token, from, to);
    }

    /** Evicts a token if it is live. */
    protected final void evict(int layer, int token, Transitions out) {
        if (levels[layer][token] != Level.EVICT_CODE) {
            move(layer, token, Level.EVICT_CODE, out);
        }
    }

    protected final void requireStarted() {
        if (context == null) {
            throw new IllegalStateException(name() + ": start() was not called");
        }
    }

    @Override
    public void checkInvariants() {
        requireStarted();
        for (int l = 0; l < layers; l++) {
            int n = 0;
            for (int t = 0; t < length; t++) {
                byte c = levels[l][t];
                if (c < Level.CACHE_CODE || c > Level.EVICT_CODE) {
                    throw new IllegalStateException(name() + ": token " + t + " of layer " + l + " has level code " + c);
                }
                if (c != Level.EVICT_CODE) {
                    n++;
                }
            }
            if (n != live[l]) {
                throw new IllegalStateException(name() + ": layer " + l + " counts " + live[l] + " live tokens but holds " + n);
            }
        }
    }

    @Override
    public String toString() {
        return name();
    }
}

package io.tierkv.core.policy;

import io.tierkv.core.Level;
import io.tierkv.core.Transitions;

/**
 * The paper's four-level state machine, pure: counts in, transitions out. It touches no memory but the
 * arrays it is given, and keeps no state beyond the configuration.
 *
 * <p>Reading of the paper (Dela Rosa and Li, 2025, "Policy Implementation"): "Demotion by one level is
 * performed if it fails to achieve required counts. Else, promotion." We read this as <em>one step
 * toward</em> the level the window's count earned: a token at LOW whose count earns CACHE becomes
 * NORMAL, not CACHE, and one whose count matches its level stays. The alternative reading ("promote
 * whenever the current level's threshold is met") differs only for tokens whose count is exactly at
 * their level; docs/architecture.md documents the choice. EVICT is final in drop mode.
 *
 * <p>The young-token rule: a token is judged only once it has lived a full window, i.e. when
 * {@code now - birth >= window}; its counts from before that window are discarded at each close.
 */
public final class LevelStateMachine {
    private final HierarchicalConfig config;
    /**
     * Layers' closes of at least this many judged tokens go to the Vector API kernel, shorter ones to the scalar one. The
     * vector kernel is faster only once C2 has compiled it, after some 40,000 loop iterations; until then (interpreted, then
     * C1, which boxes every vector) a close of 700 tokens x 12 layers took 13-270 ms on this project's 2-core EPYC against
     * 0.2-3 ms scalar, and since decoding closes a window every 40 tokens a short run never gets there (it took 40 windows,
     * 1,600 tokens, and ~0.9 s of closes). Hot, 8,000 tokens x 12 layers took 0.10-0.15 ms against 0.7-0.8 ms scalar. From
     * 32k tokens a layer a close runs 4,096 vector iterations a layer, so the first window or two of a long context compile
     * it (bench's {@code WindowCloseBenchmark} measures it there, at 32k and 128k tokens x 32 layers); below, a scalar close
     * costs well under a millisecond per layer and needs no warming. Both kernels give the same levels and transitions.
     */
    static final int VECTOR_MIN_TOKENS = 1 << 15;

    /** The close's inner loops, one of each per machine. */
    private final LevelKernel scalar = new ScalarLevelKernel();
    private final LevelKernel vector = LevelKernel.create();

    public LevelStateMachine(HierarchicalConfig config) {
        this.config = config;
    }

    public HierarchicalConfig config() {
        return config;
    }

    /** The level a window's count earns. */
    public byte earned(int count) {
        if (count >= config.cacheMin()) {
            return Level.CACHE_CODE;
        }
        if (count >= config.normalMin()) {
            return Level.NORMAL_CODE;
        }
        if (count >= config.lowMin()) {
            return Level.LOW_CODE;
        }
        return Level.EVICT_CODE;
    }

    /**
     * Closes a window for one layer: every live token old enough moves one level toward the level its
     * count earned. Writes the new levels into {@code levels}, records transitions, and leaves
     * {@code counts} untouched (the caller resets them).
     *
     * @param levels level codes, indexed by token, updated in place
     * @param counts the window's counts, indexed by token
     * @param birth  the step at which each token arrived, non-decreasing in token order (tokens arrive in order)
     * @param length tokens to consider, {@code [0, length)}
     * @param now    the step at which the window closes
     * @param revive whether an EVICT token whose count earned more moves up to LOW (tier mode: its KV is
     *               still on the host) or stays evicted (drop mode: EVICT is final)
     * @return the number of tokens that moved to EVICT, less those that left it
     */
    public int closeWindow(int layer, byte[] levels, int[] counts, int[] birth, int length, int now, boolean revive,
                           Transitions out) {
        int finalLevel = revive ? Level.EVICT_CODE + 1 : Level.EVICT_CODE;
        int bornBy = now - config.window();
        // Births are in token order: the tokens old enough to be judged are a prefix, found by one search, so the
        // close reads no birth per token (a third of what it would read besides the counts and levels).
        assert inOrder(birth, length) : "births must not decrease along the sequence";
        int judged = bornByEnd(birth, length, bornBy);
        LevelKernel k = kernelFor(judged);
        k.net = 0;
        short[] changes = out.claim(judged + LevelKernel.SLACK);
        // One run of transitions per span of tokens: an entry holds its token's offset in the span.
        for (int start = 0; start < judged; start += Transitions.SPAN) {
            int end = Math.min(judged, start + Transitions.SPAN);
            int first = out.size();
            int last = k.close(levels, counts, start, end, finalLevel, config.cacheMin(), config.normalMin(), config.lowMin(),
                    changes, first);
            out.commit(layer, start, last - first);
        }
        return k.net;
    }

    /** The kernel for a close of {@code judged} tokens: the vector one (where present) from {@link #VECTOR_MIN_TOKENS}. */
    LevelKernel kernelFor(int judged) {
        return judged >= VECTOR_MIN_TOKENS ? vector : scalar;
    }

    private static boolean inOrder(int[] birth, int length) {
        for (int t = 1; t < length; t++) {
            if (birth[t] < birth[t - 1]) {
                return false;
            }
        }
        return true;
    }

    /** The first token in {@code [0, length)} born after {@code bornBy}, or {@code length}; births are non-decreasing. */
    static int bornByEnd(int[] birth, int length, int bornBy) {
        if (length == 0 || birth[length - 1] <= bornBy) {
            return length;
        }
        int lo = 0;
        int hi = length - 1;
        // invariant: birth[hi] > bornBy, and every token before lo was born by bornBy
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (birth[mid] <= bornBy) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }

    /** Closes a window with EVICT final (drop mode). */
    public int closeWindow(int layer, byte[] levels, int[] counts, int[] birth, int length, int now, Transitions out) {
        return closeWindow(layer, levels, counts, birth, length, now, false, out);
    }
}

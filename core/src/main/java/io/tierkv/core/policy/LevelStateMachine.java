package io.tierkv.core.policy;

import io.tierkv.core.Level;
import io.tierkv.core.Transitions;

/**
 * The paper's four-level state machine, pure: counts in, transitions out. It touches no memory but the
 * arrays it is given, and keeps no state beyond the configuration and reused scratch rows.
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
     * @param birth  the step at which each token arrived
     * @param length tokens to consider, {@code [0, length)}
     * @param now    the step at which the window closes
     * @param revive whether an EVICT token whose count earned more moves up to LOW (tier mode: its KV is
     *               still on the host) or stays evicted (drop mode: EVICT is final)
     * @return the number of tokens that moved to EVICT, less those that left it
     */
    public int closeWindow(int layer, byte[] levels, int[] counts, int[] birth, int length, int now, boolean revive,
                           Transitions out) {
        ensureScratch(length);
        int window = config.window();
        int cache = config.cacheMin();
        int normal = config.normalMin();
        int low = config.lowMin();
        int finalLevel = revive ? Level.EVICT_CODE + 1 : Level.EVICT_CODE;
        int[] index = scratchIndex;
        byte[] from = scratchFrom;
        byte[] to = scratchTo;
        int n = 0;
        int net = 0;
        // Branch-free: every token is written at slot n, and n advances only when its level changes, so the
        // loop costs the same whatever the mix of levels (a third of them move at a typical close).
        for (int t = 0; t < length; t++) {
            int f = levels[t];
            int c = counts[t];
            int earned = Level.EVICT_CODE - (c >= low ? 1 : 0) - (c >= normal ? 1 : 0) - (c >= cache ? 1 : 0);
            int step = Integer.signum(earned - f);
            int judged = (now - birth[t] >= window ? 1 : 0) & (f < finalLevel ? 1 : 0);
            int nt = f + step * judged;
            levels[t] = (byte) nt;
            index[n] = t;
            from[n] = (byte) f;
            to[n] = (byte) nt;
            net += (nt == Level.EVICT_CODE ? 1 : 0) - (f == Level.EVICT_CODE ? 1 : 0);
            n += nt != f ? 1 : 0;
        }
        out.addAll(layer, index, from, to, n);
        return net;
    }

    /** (token) scratch rows of one close's transitions, reused; one spare slot for the branch-free write. */
    private int[] scratchIndex = new int[0];
    private byte[] scratchFrom = new byte[0];
    private byte[] scratchTo = new byte[0];

    private void ensureScratch(int length) {
        if (scratchIndex.length < length + 1) {
            int n = Math.max(length + 1, scratchIndex.length * 2);
            scratchIndex = new int[n];
            scratchFrom = new byte[n];
            scratchTo = new byte[n];
        }
    }

    /** Closes a window with EVICT final (drop mode). */
    public int closeWindow(int layer, byte[] levels, int[] counts, int[] birth, int length, int now, Transitions out) {
        return closeWindow(layer, levels, counts, birth, length, now, false, out);
    }
}

package io.tierkv.core.policy;

import io.tierkv.core.Level;
import io.tierkv.core.Transitions;
import io.tierkv.core.popularity.VectorSupport;

/**
 * The inner loop of a window close over one span of a layer's tokens: judges each token, writes its new level
 * in place, and lists the tokens whose level changed as {@link Transitions#entry entries} (offset in the span,
 * from, to) straight into the array a {@link Transitions#claim} gave. Two implementations compute the same
 * thing: {@link ScalarLevelKernel} and, where {@code jdk.incubator.vector} is present, {@code VectorLevelKernel};
 * {@link #create} picks one once.
 *
 * <p>Every token of the span is old enough to be judged (the caller cuts the span at the first young token; births
 * are in token order, so that is one search, not a read per token). A token is judged when its level is below
 * {@code finalLevel} ({@code EVICT + 1} when EVICT tokens may climb back, {@code EVICT} when EVICT is final); a judged
 * token moves one level toward the level its count earned: {@code EVICT - [c >= low] - [c >= normal] - [c >= cache]}.
 * Counts are never negative and thresholds at least 1 ({@link HierarchicalConfig} checks them), which lets the vector
 * kernel read {@code c >= x} from the sign of {@code x - 1 - c}.
 *
 * <p>Not thread-safe: {@link #net} belongs to one close at a time.
 */
abstract class LevelKernel {
    /** Room to claim beyond one change per token: kernels write a whole vector (or one slot) past the last change. */
    static final int SLACK = 16;

    /** Tokens that moved to EVICT less those that left it, summed over spans until reset by the caller. */
    int net;

    /**
     * Judges tokens {@code [start, end)}, {@code end - start <= Transitions.SPAN}, writes their new levels into
     * {@code levels}, the changes into {@code changes} from {@code at} on (room for {@code end - start + SLACK}
     * there), and adds to {@link #net}.
     *
     * @return where the changes end in {@code changes}
     */
    abstract int close(byte[] levels, int[] counts, int start, int end, int finalLevel, int cache, int normal, int low,
                       short[] changes, int at);

    /** The Vector API kernel when the module is present (see {@link VectorSupport}), else the scalar one. */
    static LevelKernel create() {
        if (!VectorSupport.available()) {
            return new ScalarLevelKernel();
        }
        try {
            // By name, so that nothing links the Vector API class where the module is absent.
            return (LevelKernel) Class.forName("io.tierkv.core.policy.VectorLevelKernel").getDeclaredConstructor().newInstance();
        } catch (ReflectiveOperationException | LinkageError e) {
            throw new IllegalStateException("cannot load VectorLevelKernel although the Vector API is present", e);
        }
    }

    /** The scalar kernel's loop over {@code [start, end)}, writing changes (offsets from {@code base}) from {@code n} on; shared with the vector kernel's tail. */
    final int closeScalar(byte[] levels, int[] counts, int start, int end, int finalLevel, int cache, int normal, int low,
                          int base, short[] changes, int n) {
        int evicted = 0;
        // Branch-free: every token is written at slot n, and n advances only when its level changes.
        for (int t = start; t < end; t++) {
            int f = levels[t];
            int c = counts[t];
            int earned = Level.EVICT_CODE - (c >= low ? 1 : 0) - (c >= normal ? 1 : 0) - (c >= cache ? 1 : 0);
            int judged = f < finalLevel ? 1 : 0;
            int nt = f + Integer.signum(earned - f) * judged;
            levels[t] = (byte) nt;
            changes[n] = (short) Transitions.entry(t - base, f, nt);
            evicted += (nt == Level.EVICT_CODE ? 1 : 0) - (f == Level.EVICT_CODE ? 1 : 0);
            n += nt != f ? 1 : 0;
        }
        net += evicted;
        return n;
    }
}

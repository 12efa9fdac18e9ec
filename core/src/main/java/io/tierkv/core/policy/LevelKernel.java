package io.tierkv.core.policy;

import io.tierkv.core.Level;
import io.tierkv.core.Transitions;
import io.tierkv.core.popularity.VectorSupport;

/**
 * The inner loop of a window close over one chunk of one layer's tokens: judges each token, writes its new
 * level in place, and lists the tokens whose level changed in this kernel's scratch row {@link #changes},
 * {@link Transitions#pack packed} as a {@link Transitions} list holds them. Two implementations compute the same thing: {@link ScalarLevelKernel} and,
 * where {@code jdk.incubator.vector} is present, {@code VectorLevelKernel}; {@link #create} picks one once.
 *
 * <p>A token is judged when it was born by {@code bornBy} and its level is below {@code finalLevel}
 * ({@code EVICT + 1} when EVICT tokens may climb back, {@code EVICT} when EVICT is final); a judged token moves
 * one level toward the level its count earned: {@code EVICT - [c >= low] - [c >= normal] - [c >= cache]}.
 *
 * <p>Not thread-safe: the scratch rows and {@link #net} belong to one close at a time.
 */
abstract class LevelKernel {
    /** Tokens per chunk: the scratch row stays in L1 (16 KiB). */
    static final int CHUNK = 4096;
    /** Slack after the last row entry, for kernels that write a whole vector past the last change. */
    static final int SLACK = 64;

    /** (changes) each change of the last chunk, {@link Transitions#pack packed}. */
    final int[] changes = new int[CHUNK + SLACK];
    /** Tokens that moved to EVICT less those that left it, summed over chunks until reset by the caller. */
    int net;

    /**
     * Judges tokens {@code [start, end)}, {@code end - start <= CHUNK}, writes their new levels into
     * {@code levels}, the changes into {@link #changes} from 0, and adds to {@link #net}.
     *
     * @return the number of changes written
     */
    abstract int close(byte[] levels, int[] counts, int[] birth, int start, int end, int bornBy, int finalLevel,
                       int cache, int normal, int low);

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

    /** The scalar kernel's loop over {@code [start, end)}, appending at {@code n}; shared with the vector kernel's tail. */
    final int closeScalar(byte[] levels, int[] counts, int[] birth, int start, int end, int bornBy, int finalLevel,
                          int cache, int normal, int low, int n) {
        int[] changes = this.changes;
        int evicted = 0;
        // Branch-free: every token is written at slot n, and n advances only when its level changes.
        for (int t = start; t < end; t++) {
            int f = levels[t];
            int c = counts[t];
            int earned = Level.EVICT_CODE - (c >= low ? 1 : 0) - (c >= normal ? 1 : 0) - (c >= cache ? 1 : 0);
            int judged = (birth[t] <= bornBy ? 1 : 0) & (f < finalLevel ? 1 : 0);
            int nt = f + Integer.signum(earned - f) * judged;
            levels[t] = (byte) nt;
            changes[n] = Transitions.pack(t, f, nt);
            evicted += (nt == Level.EVICT_CODE ? 1 : 0) - (f == Level.EVICT_CODE ? 1 : 0);
            n += nt != f ? 1 : 0;
        }
        net += evicted;
        return n;
    }
}

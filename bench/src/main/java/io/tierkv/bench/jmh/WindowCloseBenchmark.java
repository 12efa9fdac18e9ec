package io.tierkv.bench.jmh;

import io.tierkv.core.Level;
import io.tierkv.core.Transitions;
import io.tierkv.core.policy.HierarchicalConfig;
import io.tierkv.core.policy.LevelStateMachine;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One window close of the hierarchical policy over every layer ({@link LevelStateMachine#closeWindow}),
 * what {@code HierarchicalPolicy.step()} does every 40 generated tokens, at 32k and 128k tokens and 32
 * layers, on two sets of levels and counts ({@link Data}): {@code ADVERSARIAL}, levels independent of the counts,
 * moves 81% of the tokens (3.4 million transitions at 128k), a worst case for the transitions written;
 * {@code STEADY}, the levels and counts a decode settles into, moves 19%. The setup prints the share. Each call
 * first restores the levels from a pristine copy; {@code COPY_ONLY} measures that restore alone, to subtract;
 * {@code SCAN} (after the same restore) reads every count and level once, the floor a close is compared with.
 *
 * <p>Run: {@code mvn -B -o -q -Pjmh -DskipTests clean package}, then
 * {@code java --add-modules jdk.incubator.vector -cp "bench/target/tierkv.jar:bench/target/lib/*" org.openjdk.jmh.Main WindowCloseBenchmark}
 * (without the module the close runs its scalar loop).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class WindowCloseBenchmark {
    /** What a call does besides restoring the levels; SCAN is the baseline: one pass reading every count and level. */
    public enum Mode_ { CLOSE, COPY_ONLY, SCAN }

    @Param({"CLOSE", "COPY_ONLY", "SCAN"})
    Mode_ mode;

    @Param({"32768", "131072"})
    int tokens;

    @Param({"32"})
    int layers;

    /** The levels and counts closed: see {@link Data}. */
    @Param({"ADVERSARIAL", "STEADY"})
    Data data;

    /** What the close works on. */
    public enum Data {
        /**
         * Levels random and independent of the counts (mostly NORMAL and LOW, some CACHE and EVICT), counts
         * Zipf-like with 70% zeros; closed in drop mode: 81% of the tokens move, the worst case for the transitions
         * written and for their compaction.
         */
        ADVERSARIAL,
        /**
         * The steady state of a decode: every token starts NORMAL and the machine itself closes
         * {@value #STEADY_WINDOWS} windows over a seeded count process before the measured one, in tier mode (the
         * runtime's default: EVICT tokens can climb back). Each token has a rate of selections per window that
         * persists from window to window (each window 5% of the tokens draw a new one): 55% are never selected,
         * 30% a few times per window at most (rate below 2), 15% a Zipf-like minority (rate 2 / (1 - u), up to the
         * window of 40); a window's count is Poisson with the token's rate. A token's level thus tends to match
         * its count, and 19% of the tokens move in the measured close (19.3% at 128k, 19.2% at 32k; net EVICT
         * +2,001 and -637), most of them the few-selections tokens stepping between LOW and EVICT. The rates are
         * a model, not measured from a model's attention.
         */
        STEADY
    }

    /** Windows the machine closes over the count process before the measured close (STEADY). */
    static final int STEADY_WINDOWS = 12;

    private final LevelStateMachine machine = new LevelStateMachine(HierarchicalConfig.paper());
    private final Transitions out = new Transitions();
    /** (layer, token) level codes before the close. */
    private byte[][] pristine;
    /** (layer, token) level codes the close works on. */
    private byte[][] levels;
    /** (layer, token) window counts. */
    private int[][] counts;
    /** (token) arrival step, all old enough to be judged. */
    private int[] birth;
    /** Whether EVICT tokens may climb back (tier mode): STEADY's, as the runtime's default; ADVERSARIAL closes in drop mode. */
    private boolean revive;
    /** The last close's net evictions, for the setup's report. */
    private int lastNet;

    @Setup
    public void setup() {
        SplittableRandom rnd = new SplittableRandom(3);
        pristine = new byte[layers][tokens];
        levels = new byte[layers][tokens];
        counts = new int[layers][tokens];
        birth = new int[tokens];
        revive = data == Data.STEADY;
        if (data == Data.STEADY) {
            steady(rnd);
        } else {
            adversarial(rnd);
        }
        // Warm the transitions list to its steady size so the measurement does not include growth.
        Mode_ m = mode;
        mode = Mode_.CLOSE;
        close();
        mode = m;
        System.out.printf("%n%s data: %.1f%% of the tokens move (%d transitions, net %+d EVICT)%n", data,
                100.0 * out.size() / ((long) layers * tokens), out.size(), lastNet);
    }

    private void adversarial(SplittableRandom rnd) {
        for (int l = 0; l < layers; l++) {
            for (int t = 0; t < tokens; t++) {
                double u = rnd.nextDouble();
                pristine[l][t] = u < 0.05 ? Level.CACHE_CODE : u < 0.55 ? Level.NORMAL_CODE : u < 0.9 ? Level.LOW_CODE : Level.EVICT_CODE;
                double v = rnd.nextDouble();
                counts[l][t] = v < 0.7 ? 0 : (int) (1 / (1.0 - v));
            }
        }
    }

    /** Runs the machine over {@link #STEADY_WINDOWS} windows of the count process, then draws the measured window's counts. */
    private void steady(SplittableRandom rnd) {
        float[][] rate = new float[layers][tokens];
        for (int l = 0; l < layers; l++) {
            Arrays.fill(pristine[l], Level.NORMAL_CODE);
            for (int t = 0; t < tokens; t++) {
                rate[l][t] = rate(rnd);
            }
        }
        Transitions scratch = new Transitions();
        for (int w = 0; w <= STEADY_WINDOWS; w++) {
            for (int l = 0; l < layers; l++) {
                for (int t = 0; t < tokens; t++) {
                    if (rnd.nextDouble() < 0.05) {
                        rate[l][t] = rate(rnd);
                    }
                    counts[l][t] = poisson(rnd, rate[l][t]);
                }
            }
            if (w < STEADY_WINDOWS) {
                scratch.clear();
                for (int l = 0; l < layers; l++) {
                    machine.closeWindow(l, pristine[l], counts[l], birth, tokens, HierarchicalConfig.PAPER_WINDOW, true, scratch);
                }
            }
        }
    }

    /** A token's selections per window: never (55%), a few (30%), or a Zipf-like many (15%), at most a window's worth. */
    private static float rate(SplittableRandom rnd) {
        double u = rnd.nextDouble();
        if (u < 0.55) {
            return 0;
        }
        if (u < 0.85) {
            return (float) rnd.nextDouble(0.05, 2);
        }
        return (float) Math.min(HierarchicalConfig.PAPER_WINDOW, 2 / (1.0 - rnd.nextDouble()));
    }

    /** A Poisson draw with mean {@code rate} (Knuth: multiply uniforms until below e^-rate). */
    private static int poisson(SplittableRandom rnd, float rate) {
        if (rate == 0) {
            return 0;
        }
        double limit = Math.exp(-rate);
        double p = rnd.nextDouble();
        int k = 0;
        while (p > limit) {
            p *= rnd.nextDouble();
            k++;
        }
        return k;
    }

    @Benchmark
    public int close() {
        for (int l = 0; l < layers; l++) {
            System.arraycopy(pristine[l], 0, levels[l], 0, tokens);
        }
        if (mode == Mode_.COPY_ONLY) {
            return levels[0][0];
        }
        if (mode == Mode_.SCAN) {
            int sum = 0;
            for (int l = 0; l < layers; l++) {
                byte[] lv = levels[l];
                int[] c = counts[l];
                for (int t = 0; t < tokens; t++) {
                    sum += c[t] + lv[t];
                }
            }
            return sum;
        }
        out.clear();
        int evicted = 0;
        for (int l = 0; l < layers; l++) {
            evicted += machine.closeWindow(l, levels[l], counts[l], birth, tokens, HierarchicalConfig.PAPER_WINDOW, revive, out);
        }
        lastNet = evicted;
        return evicted + out.size();
    }
}

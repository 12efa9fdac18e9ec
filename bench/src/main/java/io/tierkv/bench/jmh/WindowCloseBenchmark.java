package io.tierkv.bench.jmh;

import io.tierkv.core.Level;
import io.tierkv.core.Transitions;
import io.tierkv.core.policy.HierarchicalConfig;
import io.tierkv.core.policy.LevelStateMachine;
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
 * layers. Levels start as a mix (mostly NORMAL and LOW, some CACHE and EVICT) and counts are Zipf-like
 * with 70% zeros, so the machine moves 81% of the tokens (3.4 million transitions at 128k): a worst case for
 * the transitions it writes. Each call first restores the levels from a
 * pristine copy; {@code COPY_ONLY} measures that restore alone, to subtract; {@code SCAN} (after the same restore)
 * reads every count and level once, the floor a close is compared with.
 *
 * <p>Run: {@code mvn -B -o -q -Pjmh -DskipTests package}, then
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

    @Setup
    public void setup() {
        SplittableRandom rnd = new SplittableRandom(3);
        pristine = new byte[layers][tokens];
        levels = new byte[layers][tokens];
        counts = new int[layers][tokens];
        birth = new int[tokens];
        for (int l = 0; l < layers; l++) {
            for (int t = 0; t < tokens; t++) {
                double u = rnd.nextDouble();
                pristine[l][t] = u < 0.05 ? Level.CACHE_CODE : u < 0.55 ? Level.NORMAL_CODE : u < 0.9 ? Level.LOW_CODE : Level.EVICT_CODE;
                double v = rnd.nextDouble();
                counts[l][t] = v < 0.7 ? 0 : (int) (1 / (1.0 - v));
            }
        }
        // Warm the transitions list to its steady size so the measurement does not include growth.
        close();
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
            evicted += machine.closeWindow(l, levels[l], counts[l], birth, tokens, HierarchicalConfig.PAPER_WINDOW, out);
        }
        return evicted + out.size();
    }
}

package io.tierkv.bench.jmh;

import io.tierkv.core.Level;
import io.tierkv.core.Transitions;
import io.tierkv.core.block.BlockTable;
import io.tierkv.core.placement.Moves;
import io.tierkv.core.placement.Placement;
import io.tierkv.core.placement.PlacementConfig;
import io.tierkv.core.policy.KvPolicy;
import io.tierkv.core.policy.Policies;
import io.tierkv.core.policy.PolicyContext;
import io.tierkv.core.popularity.PopularityCounters;
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
 * The runtime's policy and residency bookkeeping for one generated token, without memory: what
 * {@code Sequence.observeSelected} per layer and {@code Sequence.step} do on core's objects (the hierarchical
 * policy, the block table, the placement). A sequence of {@code tokens} per layer over 32 layers, a 25% device
 * budget, each layer's top-8 drawn at random. {@code window=1000000} never closes a window (the common step);
 * {@code window=1} closes one every step (the step that does).
 *
 * <p>Run: {@code mvn -B -o -q -Pjmh -DskipTests package}, then
 * {@code java -cp "bench/target/tierkv.jar:bench/target/lib/*" org.openjdk.jmh.Main StepBookkeepingBenchmark}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class StepBookkeepingBenchmark {
    @Param({"131072"})
    int tokens;

    @Param({"32"})
    int layers;

    @Param({"1000000", "1"})
    int window;

    private static final int BLOCK = 16;
    private static final int K = 8;

    private KvPolicy policy;
    private BlockTable table;
    private Placement placement;
    private final Transitions tokenMoves = new Transitions();
    private final Transitions blockMoves = new Transitions();
    private final Moves moves = new Moves();
    /** (layers * 64, K) pre-drawn top-k rows, ascending. */
    private int[][] rows;
    private int row;

    @Setup
    public void setup() {
        policy = Policies.create("hierarchical:window=" + window);
        policy.start(new PolicyContext(layers, tokens, tokens / 4, PopularityCounters.java()));
        table = new BlockTable(layers, BLOCK);
        int blocks = tokens / BLOCK;
        placement = new Placement(PlacementConfig.defaults(), policy.tierMode(), layers, blocks * layers / 4 - layers,
                Integer.MAX_VALUE);
        policy.append(tokens);
        table.append(tokens, Level.NORMAL_CODE, blockMoves);
        blockMoves.clear();
        policy.endPrefill(tokenMoves);
        tokenMoves.clear();
        for (int b = 0; b < blocks - 1; b++) {
            for (int l = 0; l < layers; l++) {
                placement.admit(l, b, Level.NORMAL_CODE, moves);
            }
        }
        moves.clear();
        SplittableRandom rnd = new SplittableRandom(7);
        rows = new int[layers * 64][];
        for (int i = 0; i < rows.length; i++) {
            rows[i] = rnd.ints(0, tokens).distinct().limit(K).sorted().toArray();
        }
    }

    @Benchmark
    public int step() {
        for (int l = 0; l < layers; l++) {
            int[] p = rows[row++ & (rows.length - 1)];
            policy.observeSelected(l, p, K);
            placement.requestPositions(l, p, K, BLOCK, moves);
        }
        policy.step(tokenMoves);
        if (!tokenMoves.isEmpty()) {
            table.apply(tokenMoves, blockMoves);
            for (int i = 0; i < blockMoves.size(); i++) {
                placement.level(blockMoves.layer(i), blockMoves.index(i), blockMoves.to(i), moves);
            }
        }
        placement.step();
        int n = moves.size() + tokenMoves.size();
        tokenMoves.clear();
        blockMoves.clear();
        moves.clear();
        return n;
    }
}

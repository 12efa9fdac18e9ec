package io.tierkv.bench.jmh;

import io.tierkv.bench.sim.FutureIndex;
import io.tierkv.bench.sim.SimPolicies;
import io.tierkv.bench.sim.SimPolicy;
import io.tierkv.bench.sim.Simulator;
import io.tierkv.core.Budget;
import io.tierkv.core.trace.SyntheticTrace;
import io.tierkv.core.trace.SyntheticTraceConfig;
import io.tierkv.core.trace.TraceReader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
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
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One simulator replay (trace reading included) per policy: a synthetic trace of a {@code tokens}-token
 * prompt, 200 generated tokens, 32 layers and k = 8 (51,200 block requests) at a budget of 0.25. The
 * trace file and the clairvoyant's future are made once in {@link #setup}.
 *
 * <p>Run: {@code mvn -B -o -q -Pjmh -DskipTests package}, then
 * {@code java -cp "bench/target/tierkv.jar:bench/target/lib/*" org.openjdk.jmh.Main ReplayBenchmark}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
public class ReplayBenchmark {
    @Param({"lru", "s3fifo", "clairvoyant", "hierarchical", "h2o", "streaming"})
    String policy;

    @Param({"8192", "32768"})
    int tokens;

    private Path trace;
    private FutureIndex future;

    @Setup
    public void setup() throws IOException {
        trace = Files.createTempFile("replay", ".tkvt");
        SyntheticTrace.write(SyntheticTraceConfig.defaults(tokens, 200, 1), trace);
        try (TraceReader r = TraceReader.open(trace)) {
            future = FutureIndex.build(r);
        }
    }

    @Benchmark
    public long replay() throws IOException {
        SimPolicy p = SimPolicies.create(policy);
        try (TraceReader r = TraceReader.open(trace)) {
            return Simulator.run(p, r, Budget.fraction(0.25), future, null).stats().misses;
        }
    }

    @TearDown
    public void tearDown() throws IOException {
        Files.deleteIfExists(trace);
    }
}

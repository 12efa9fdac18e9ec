package io.tierkv.bench.jmh;

import io.tierkv.model.cuda.TieredStepBookkeeping;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The host work a tiered CUDA decode step does per token outside its kernels ({@link TieredStepBookkeeping}): the
 * sequence's append (placement, copies on the host mirror), the block tables kept or rebuilt per layer, the changed span
 * staged for upload, for {@code hierarchical} each layer's top-k positions counted and requested (drawn, not computed),
 * the policy's step. 32 layers of a Llama 3 8B's KV shape, a prompt of {@code prompt} tokens, 128
 * device blocks per layer (2048 tokens), 1000 tokens per call, the sequence starting over (untimed) before it would pass
 * 8192.
 *
 * <p>Run: {@code mvn -B -o -q -Pjmh -DskipTests clean package}, then
 * {@code java --add-exports java.base/jdk.internal.misc=ALL-UNNAMED -cp "bench/target/tierkv.jar:bench/target/lib/*"
 * org.openjdk.jmh.Main TieredTablesBenchmark}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED")
public class TieredTablesBenchmark {
    @Param({"2048", "6144"})
    int prompt;

    @Param({"full", "streaming", "hierarchical"})
    String policy;

    private static final int TOKENS = 1000;

    private TieredStepBookkeeping step;

    @Setup(Level.Trial)
    public void setup() {
        step = new TieredStepBookkeeping(32, 8192, 128, policy, prompt);
    }

    /** Outside the timing: a new sequence when the next 1000 tokens would pass 8192. */
    @Setup(Level.Invocation)
    public void room() {
        if (step.room() < TOKENS) {
            step.restart();
        }
    }

    /** 1000 tokens (the time reported is per token). */
    @Benchmark
    @OperationsPerInvocation(TOKENS)
    public int tokens() {
        int last = 0;
        for (int t = 0; t < TOKENS; t++) {
            last = step.token();
        }
        return last;
    }

    /** Where the time went, printed in the fork's output (warm-up included). */
    @TearDown(Level.Trial)
    public void tearDown() {
        System.out.println(policy + ", prompt " + prompt + ": " + step.phases());
        step.close();
    }
}

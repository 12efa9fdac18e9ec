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
 * the policy's step. {@code layers} of a Llama 3 8B's KV shape, a prompt of {@code prompt} tokens, 500 tokens per call,
 * the sequence starting over (untimed) before it would pass maxTokens.
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
    /**
     * Layers x device blocks per layer x maxTokens: {@code 32x128x8192} a Llama 3 8B's layers with 2048 tokens on the device,
     * {@code 12x8x1024} the GPU check's 100M model's at 25% of a 512-token prompt.
     */
    @Param({"32x128x8192"})
    String layers;

    @Param({"2048", "6144"})
    int prompt;

    @Param({"full", "streaming", "hierarchical"})
    String policy;

    private static final int TOKENS = 500;

    private TieredStepBookkeeping step;

    @Setup(Level.Trial)
    public void setup() {
        String[] shape = layers.split("x");
        step = new TieredStepBookkeeping(Integer.parseInt(shape[0]), Integer.parseInt(shape[2]), Integer.parseInt(shape[1]), policy,
                prompt);
    }

    /** Outside the timing: a new sequence when the next 500 tokens would pass maxTokens. */
    @Setup(Level.Invocation)
    public void room() {
        if (step.room() < TOKENS) {
            step.restart();
        }
    }

    /** 500 tokens (the time reported is per token). */
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

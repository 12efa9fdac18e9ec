package io.tierkv.bench.jmh;

import io.tierkv.core.popularity.FastPopularityCounter;
import io.tierkv.core.popularity.SyntheticAttention;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.T_TensorTensor_T;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
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
 * The popularity counter on one query of one layer: sum the heads' attention rows and select the
 * top-k keys, in Java (scalar or Vector API, core's {@link FastPopularityCounter}) and in libtorch
 * ({@code probs.sum(0).topk(k)}, indices copied back), on the same input. libtorch runs on one
 * thread ({@code torch.set_num_threads(1)}) so both sides use one core; its input tensor wraps
 * native memory filled once in {@link #setup}, and each call's temporaries are freed by a
 * {@link PointerScope}. The setup checks that every implementation selects the same keys.
 *
 * <p>Run: {@code mvn -B -o -q -Pjmh -DskipTests package}, then
 * {@code java -cp "bench/target/tierkv.jar:bench/target/lib/*" org.openjdk.jmh.Main PopularityBenchmark}
 * (add {@code -p keys=131072} to pick sizes, {@code -f 1 -wi 2 -i 3} for a quick run).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-Dorg.bytedeco.javacpp.nopointergc=false"})
public class PopularityBenchmark {
    /** Which counter runs. */
    public enum Impl { JAVA_SCALAR, JAVA_VECTOR, LIBTORCH }

    @Param({"JAVA_SCALAR", "JAVA_VECTOR", "LIBTORCH"})
    Impl impl;

    /** Keys attended to: the sequence length. */
    @Param({"4096", "32768", "131072"})
    int keys;

    /** Query heads (Llama-2-7B: 32). */
    @Param({"32"})
    int heads;

    @Param({"8"})
    int k;

    /** (heads, keys) float32 softmax rows, row-major. */
    private float[] probs;
    /** (k) selected positions. */
    private int[] out;
    private FastPopularityCounter scalar;
    private FastPopularityCounter vector;
    /** (heads * keys) float32 native copy of {@link #probs} behind {@link #input}. */
    private FloatPointer native_;
    /** (heads, keys) float32 tensor over {@link #native_}. */
    private Tensor input;

    @Setup(Level.Trial)
    public void setup() {
        probs = SyntheticAttention.softmaxRows(heads, keys, 1);
        out = new int[k];
        scalar = new FastPopularityCounter(false);
        vector = new FastPopularityCounter(true);
        if (impl == Impl.LIBTORCH) {
            torch.set_num_threads(1);
            native_ = new FloatPointer(probs);
            input = torch.from_blob(native_, heads, keys);
        }
        int[] expected = new int[k];
        scalar.selectTopK(probs, 0, heads, keys, keys, k, expected);
        run();
        int[] got = Arrays.copyOf(out, k);
        Arrays.sort(got);
        if (!Arrays.equals(expected, got)) {
            throw new IllegalStateException(impl + " selects " + Arrays.toString(got) + ", java-scalar " + Arrays.toString(expected));
        }
    }

    @Benchmark
    public int run() {
        switch (impl) {
            case JAVA_SCALAR:
                return scalar.selectTopK(probs, 0, heads, keys, keys, k, out);
            case JAVA_VECTOR:
                return vector.selectTopK(probs, 0, heads, keys, keys, k, out);
            default:
                return libtorch();
        }
    }

    @SuppressWarnings("try") // the scope collects the temporaries implicitly
    private int libtorch() {
        try (PointerScope scope = new PointerScope()) {
            T_TensorTensor_T top = input.sum(0).topk(k);
            LongPointer indices = top.get1().contiguous().data_ptr_long();
            for (int i = 0; i < k; i++) {
                out[i] = (int) indices.get(i);
            }
            return k;
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (input != null) {
            input.close();
            native_.close();
        }
    }
}

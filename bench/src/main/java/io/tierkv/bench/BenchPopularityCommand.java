package io.tierkv.bench;

import io.tierkv.core.policy.HierarchicalConfig;
import io.tierkv.core.popularity.PopularityCounter;
import io.tierkv.core.popularity.PopularityCounters;
import io.tierkv.core.popularity.SyntheticAttention;
import io.tierkv.core.popularity.VectorSupport;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.T_TensorTensor_T;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code tierkv bench popularity}: the Java popularity counter on one layer's attention probabilities
 * ({@code [heads x tokens]} f32, softmax rows), next to the fastest plain pass over the same bytes (a
 * vectorised sum of every float) and next to libtorch doing the same job its usual way
 * ({@code topk(mean(p, 0), k)}, with its default intra-op threads and with one thread, since the Java
 * counter uses one), all on one input built once. Writes {@code popularity.json}.
 *
 * <p>The sum is the yardstick: one pass that reads every float, so "counter throughput as a share of
 * the sum's" says how close to a plain read the counter runs. It uses the Vector API when present and
 * eight scalar accumulators otherwise (C2 does not vectorise a float reduction, so without the Vector
 * API the counter, whose head sum C2 does vectorise, can beat it); a {@code System.arraycopy} of the
 * same floats is timed beside it as the machine's memory speed.
 */
@Command(name = "popularity", mixinStandardHelpOptions = true,
        description = "Time the Java popularity counter against a plain vectorised sum and libtorch (mean, topk) on one input.")
final class BenchPopularityCommand implements Callable<Integer> {
    @Mixin
    OutputOption output;

    @Option(names = "--heads", description = "Attention heads (default: ${DEFAULT-VALUE}).")
    int heads = 32;

    @Option(names = "--tokens", description = "Keys per head (default: ${DEFAULT-VALUE}).")
    int tokens = 32768;

    @Option(names = "--k", description = "Top-k per step (default: the policy's, ${DEFAULT-VALUE}).")
    int k = HierarchicalConfig.DEFAULT_TOP_K;

    @Option(names = "--iterations", description = "Timed calls of each contender per round (default: ${DEFAULT-VALUE}).")
    int iterations = 20;

    @Option(names = "--rounds", description = "Rounds; contenders take turns each round and the median round counts (default: ${DEFAULT-VALUE}).")
    int rounds = 31;

    @Option(names = "--warmup", description = "Untimed calls of each contender first, for the JIT (default: ${DEFAULT-VALUE}).")
    int warmup = 300;

    @Option(names = "--seed", description = "Input seed (default: ${DEFAULT-VALUE}).")
    long seed = 42;

    /** One pass that reads every float of the input once. */
    interface Sum {
        String name();

        float sum(float[] a, int n);
    }

    @Override
    public Integer call() throws IOException {
        if (heads <= 0 || tokens <= 0 || k <= 0 || iterations <= 0 || rounds <= 0 || warmup < 0) {
            throw new IllegalArgumentException("--heads, --tokens, --k, --iterations and --rounds must be > 0, --warmup >= 0");
        }
        Path dir = output.prepare("bench-popularity");
        float[] probs = SyntheticAttention.softmaxRows(heads, tokens, seed);
        PopularityCounter counter = PopularityCounters.java();
        Sum sum = plainSum();
        int[] selected = new int[k];

        float[] sink = new float[1];
        // Java first, before libtorch is touched at all: once initialised, libtorch's OpenMP workers
        // spin between calls and steal the core from whatever runs next.
        float[] copy = new float[probs.length];
        double[][] java = timeRounds(new Contender[] {
            new Contender(() -> { }, () -> counter.selectTopK(probs, 0, heads, tokens, tokens, k, selected)),
            new Contender(() -> { }, () -> sink[0] += sum.sum(probs, probs.length)),
            new Contender(() -> { }, () -> System.arraycopy(probs, 0, copy, 0, probs.length)),
        });
        counterRounds = java[0];
        sumRounds = java[1];
        double copyMs = median(java[2]);
        int defaultThreads = torch.get_num_threads();
        try (PointerScope outer = new PointerScope()) {
            Tensor p = torch.tensor(probs).reshape(heads, tokens);
            double[][] libtorch = timeRounds(new Contender[] {
                new Contender(() -> torch.set_num_threads(defaultThreads), () -> torchTopK(p)),
                new Contender(() -> torch.set_num_threads(1), () -> torchTopK(p)),
            });
            torchRounds = libtorch[0];
            torch1Rounds = libtorch[1];
            torchIndices = torchIndices(p);
        }
        torch.set_num_threads(defaultThreads);
        int[] counterSet = Arrays.copyOf(selected, Math.min(k, tokens));
        double counterMs = median(counterRounds);
        double sumMs = median(sumRounds);
        double torchMs = median(torchRounds);
        double torch1Ms = median(torch1Rounds);

        Map<String, Object> r = new LinkedHashMap<>();
        long bytes = (long) probs.length * Float.BYTES;
        r.put("counter", counter.name());
        r.put("vectorApi", VectorSupport.available());
        r.put("heads", heads);
        r.put("tokens", tokens);
        r.put("k", k);
        r.put("inputBytes", bytes);
        r.put("iterations", iterations);
        r.put("rounds", rounds);
        r.put("statistic", "median over rounds of the mean time per call");
        r.put("counterMs", round(counterMs));
        r.put("sumMs", round(sumMs));
        r.put("sumKind", sum.name());
        r.put("arraycopyMs", round(copyMs));
        r.put("torchMs", round(torchMs));
        r.put("torchThreads", defaultThreads);
        r.put("torch1ThreadMs", round(torch1Ms));
        r.put("counterMinMs", round(Arrays.stream(counterRounds).min().orElse(0)));
        r.put("sumMinMs", round(Arrays.stream(sumRounds).min().orElse(0)));
        r.put("torchMinMs", round(Arrays.stream(torchRounds).min().orElse(0)));
        r.put("torch1ThreadMinMs", round(Arrays.stream(torch1Rounds).min().orElse(0)));
        r.put("counterGBps", round(bytes / counterMs / 1e6));
        r.put("sumGBps", round(bytes / sumMs / 1e6));
        r.put("torchGBps", round(bytes / torchMs / 1e6));
        r.put("counterShareOfSum", round(sumMs / counterMs));
        r.put("counterSpeedupOverTorch", round(torchMs / counterMs));
        r.put("counterSpeedupOverTorch1Thread", round(torch1Ms / counterMs));
        r.put("sameSetAsTorch", overlap(counterSet, torchIndices) + "/" + counterSet.length);
        r.put("meetsSumTarget", sumMs / counterMs >= 0.25);
        r.put("meetsTorchTarget", counterMs <= torchMs);
        r.put("meetsTorch1ThreadTarget", counterMs <= torch1Ms);
        r.put("sumChecksum", sink[0]);

        Path file = dir.resolve("popularity.json");
        Json.write(file, r);
        System.out.printf(Locale.ROOT, "popularity [%d heads x %d tokens] f32, k=%d, %s%n", heads, tokens, k, VectorSupport.describe());
        System.out.printf(Locale.ROOT, "  %-36s %9.4f ms  %7.2f GB/s%n", "counter (" + counter.name() + ")", counterMs, bytes / counterMs / 1e6);
        System.out.printf(Locale.ROOT, "  %-36s %9.4f ms  %7.2f GB/s%n", "sum (" + sum.name() + ")", sumMs, bytes / sumMs / 1e6);
        System.out.printf(Locale.ROOT, "  %-36s %9.4f ms  %7.2f GB/s%n", "copy (System.arraycopy)", copyMs, bytes / copyMs / 1e6);
        // Two rows with distinct labels even when libtorch's default is itself one thread.
        System.out.printf(Locale.ROOT, "  %-36s %9.4f ms  %7.2f GB/s%n", "libtorch mean+topk (default, " + defaultThreads + " thr)",
                torchMs, bytes / torchMs / 1e6);
        System.out.printf(Locale.ROOT, "  %-36s %9.4f ms  %7.2f GB/s%n", "libtorch mean+topk (forced 1 thr)", torch1Ms, bytes / torch1Ms / 1e6);
        System.out.printf(Locale.ROOT, "  counter = %.0f%% of the sum's throughput, %.2fx libtorch (%.2fx single-threaded); same set as libtorch: %s%n",
                100 * sumMs / counterMs, torchMs / counterMs, torch1Ms / counterMs, r.get("sameSetAsTorch"));
        System.out.println("  wrote " + file);
        return 0;
    }

    private double[] counterRounds;
    private double[] sumRounds;
    private double[] torchRounds;
    private double[] torch1Rounds;
    private int[] torchIndices;

    /**
     * Warms every contender up, then runs {@link #rounds} rounds in which each contender in turn makes
     * {@link #iterations} timed calls; returns the mean milliseconds per call, per contender and round.
     * Taking turns spreads the noise of a shared machine over the contenders alike.
     */
    private double[][] timeRounds(Contender[] contenders) {
        for (Contender c : contenders) {
            c.setup().run();
            for (int i = 0; i < warmup; i++) {
                c.call().run();
            }
        }
        double[][] ms = new double[contenders.length][rounds];
        for (int round = 0; round < rounds; round++) {
            for (int c = 0; c < contenders.length; c++) {
                contenders[c].setup().run();
                Runnable call = contenders[c].call();
                long start = System.nanoTime();
                for (int i = 0; i < iterations; i++) {
                    call.run();
                }
                ms[c][round] = (System.nanoTime() - start) / 1e6 / iterations;
            }
        }
        return ms;
    }

    private static double median(double[] values) {
        double[] v = values.clone();
        Arrays.sort(v);
        int n = v.length;
        return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    }

    /** What is timed ({@code call}) and what prepares it each round, untimed ({@code setup}). */
    private record Contender(Runnable setup, Runnable call) {
    }

    /** {@code topk(mean(p, dim 0), k)}; temporaries freed at once. */
    private void torchTopK(Tensor p) {
        try (PointerScope scope = new PointerScope()) {
            T_TensorTensor_T top = torch.topk(p.mean(0), Math.min(k, tokens));
            top.get1();
        }
    }

    private int[] torchIndices(Tensor p) {
        try (PointerScope scope = new PointerScope()) {
            Tensor idx = torch.topk(p.mean(0), Math.min(k, tokens)).get1().contiguous();
            int[] result = new int[Math.min(k, tokens)];
            for (int i = 0; i < result.length; i++) {
                result[i] = (int) idx.data_ptr_long().get(i);
            }
            return result;
        }
    }

    private static int overlap(int[] sortedA, int[] b) {
        int n = 0;
        for (int x : b) {
            if (Arrays.binarySearch(sortedA, x) >= 0) {
                n++;
            }
        }
        return n;
    }

    private static double round(double v) {
        return Math.round(v * 10_000) / 10_000.0;
    }

    private static Sum plainSum() {
        if (VectorSupport.available()) {
            try {
                return (Sum) Class.forName(BenchPopularityCommand.class.getName() + "$VectorSum").getDeclaredConstructor().newInstance();
            } catch (ReflectiveOperationException | LinkageError e) {
                throw new IllegalStateException("cannot load the Vector API sum although the Vector API is present", e);
            }
        }
        return new ScalarSum();
    }

    /** Eight independent accumulators, so the adds overlap (C2 does not vectorise a float reduction). */
    static final class ScalarSum implements Sum {
        @Override
        public String name() {
            return "scalar-8acc";
        }

        @Override
        public float sum(float[] a, int n) {
            float s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
            int i = 0;
            for (; i + 8 <= n; i += 8) {
                s0 += a[i];
                s1 += a[i + 1];
                s2 += a[i + 2];
                s3 += a[i + 3];
                s4 += a[i + 4];
                s5 += a[i + 5];
                s6 += a[i + 6];
                s7 += a[i + 7];
            }
            for (; i < n; i++) {
                s0 += a[i];
            }
            return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7));
        }
    }

    /** Four vector accumulators; loaded by name only when {@code jdk.incubator.vector} is present. */
    static final class VectorSum implements Sum {
        private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

        @Override
        public String name() {
            return "vector-" + S.length() + "x4acc";
        }

        @Override
        public float sum(float[] a, int n) {
            FloatVector v0 = FloatVector.zero(S);
            FloatVector v1 = v0;
            FloatVector v2 = v0;
            FloatVector v3 = v0;
            int step = S.length();
            int i = 0;
            for (; i + 4 * step <= n; i += 4 * step) {
                v0 = v0.add(FloatVector.fromArray(S, a, i));
                v1 = v1.add(FloatVector.fromArray(S, a, i + step));
                v2 = v2.add(FloatVector.fromArray(S, a, i + 2 * step));
                v3 = v3.add(FloatVector.fromArray(S, a, i + 3 * step));
            }
            float s = v0.add(v1).add(v2.add(v3)).reduceLanes(jdk.incubator.vector.VectorOperators.ADD);
            for (; i < n; i++) {
                s += a[i];
            }
            return s;
        }
    }
}

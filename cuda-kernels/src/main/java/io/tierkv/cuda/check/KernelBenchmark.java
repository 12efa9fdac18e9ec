package io.tierkv.cuda.check;

import io.tierkv.core.popularity.ReferencePopularityCounter;
import io.tierkv.core.popularity.SyntheticAttention;
import io.tierkv.cuda.driver.CudaContext;
import io.tierkv.cuda.driver.CudaCopies;
import io.tierkv.cuda.driver.CudaStream;
import io.tierkv.cuda.driver.DeviceBuffer;
import io.tierkv.cuda.driver.KernelModule;
import io.tierkv.cuda.driver.PinnedBuffer;
import io.tierkv.cuda.popularity.PopularityKernel;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * The GPU check's benchmark: the popularity kernel's achieved bandwidth against a device-to-device
 * copy of the same bytes measured in the same run (the copy column is device to device unless the row says otherwise) (4k, 32k and 128k tokens x 32 heads, one step; and
 * 32k x 32 heads x 32 layers in one batched launch), and pinned host/device copy bandwidth at 64 KiB,
 * 1 MiB and 16 MiB. Every kernel result is checked against the Java oracle before it is timed.
 * Times come from CUDA events around many back-to-back launches; a few seconds in all.
 */
public final class KernelBenchmark {
    /** Heads of the benchmark's attention rows, as in a 7B Llama. */
    public static final int HEADS = 32;
    /** Tokens per step measured. */
    public static final int[] TOKENS = {4096, 32768, 131072};
    /** Copy sizes for pinned host/device bandwidth. */
    public static final int[] COPY_BYTES = {64 << 10, 1 << 20, 16 << 20};
    static final int K = 8;
    static final int LAYERS = 32;

    /**
     * One row of the table.
     *
     * @param what       what was timed
     * @param size       its size in words
     * @param micros     microseconds per call
     * @param gbps       bytes read (kernel) or copied (copies) per second, in GB/s (1e9)
     * @param copyGbps   for kernels: the device-to-device copy of the same bytes in the same run, GB/s; else NaN
     * @param correct    for kernels: the selection matched the oracle
     */
    public record Row(String what, String size, double micros, double gbps, double copyGbps, boolean correct) {
        /** The kernel's bandwidth as a share of the copy's. */
        public double shareOfCopy() {
            return gbps / copyGbps;
        }

        /** The share of the copy's GB/s this row should reach ({@link KernelBenchmark#target}), or NaN when it has none. */
        public double target() {
            return KernelBenchmark.target(what, size);
        }

        /** True when the row has a target and reached it (with a positive, finite time: a broken timer meets nothing). */
        public boolean meetsTarget() {
            return !Double.isNaN(target()) && micros > 0 && Double.isFinite(shareOfCopy()) && shareOfCopy() >= target();
        }
    }

    /** The popularity row with a target. */
    static final String POPULARITY_TARGET_SIZE = HEADS + " x 32768";

    /**
     * The targets, as shares of the copy's GB/s measured in the same run: the popularity kernel at 32k tokens
     * (one step) 50%; GEMV weight streaming 60%; paged decode attention at 32k tokens in device memory 60%. NaN for
     * every other row (latency-bound sizes, copies, the host-tier row).
     */
    public static double target(String what, String size) {
        if (what.equals("popularity k=" + K) && size.equals(POPULARITY_TARGET_SIZE)) {
            return 0.5;
        }
        if (what.startsWith("gemv")) {
            return 0.6;
        }
        if (what.equals(DecoderBenchmark.ATTENTION_ROW) && size.endsWith(" x 32768")) {
            return 0.6;
        }
        return Double.NaN;
    }

    private final CudaContext context;
    private final int iterations;

    /** A benchmark on {@code context} timing {@code iterations} calls per row (after a tenth as many to warm up). */
    public KernelBenchmark(CudaContext context, int iterations) {
        this.context = context;
        this.iterations = iterations;
    }

    /** Runs every row. */
    public List<Row> run() {
        List<Row> rows = new ArrayList<>();
        try (CudaStream stream = new CudaStream(context);
             KernelModule module = KernelModule.load(context, PopularityKernel.MODULE);
             PopularityKernel kernel = new PopularityKernel(context, module, stream)) {
            for (int tokens : TOKENS) {
                rows.add(popularity(kernel, stream, tokens, 1));
            }
            rows.add(popularity(kernel, stream, 32768, LAYERS));
            for (int bytes : COPY_BYTES) {
                rows.addAll(pinnedCopies(stream, bytes));
            }
        }
        return rows;
    }

    private Row popularity(PopularityKernel kernel, CudaStream stream, int tokens, int batches) {
        long floats = (long) batches * HEADS * tokens;
        long bytes = floats * Float.BYTES;
        float[] probs = SyntheticAttention.softmaxRows(batches * HEADS, tokens, tokens);
        try (PinnedBuffer host = new PinnedBuffer(context, bytes);
             DeviceBuffer input = new DeviceBuffer(context, bytes);
             DeviceBuffer copy = new DeviceBuffer(context, bytes);
             DeviceBuffer out = new DeviceBuffer(context, (long) batches * (K + 1) * Integer.BYTES);
             PinnedBuffer result = new PinnedBuffer(context, (long) batches * (K + 1) * Integer.BYTES)) {
            FloatBuffer f = host.buffer(0, (int) bytes).asFloatBuffer();
            f.put(0, probs);
            CudaCopies.hostToDeviceAsync(input, 0, host, 0, bytes, stream);
            long outAddress = out.address();
            long countAddress = outAddress + (long) batches * K * Integer.BYTES;
            Runnable launch = () -> kernel.launch(input.address(), (long) HEADS * tokens, batches, HEADS, tokens, tokens, 0, K,
                    outAddress, countAddress, 0, 0);
            launch.run();
            CudaCopies.deviceToHostAsync(result, 0, out, 0, result.bytes(), stream);
            stream.synchronize();
            boolean correct = check(probs, tokens, batches, result);
            double kernelMicros = time(stream, launch);
            double copyMicros = time(stream, () -> CudaCopies.deviceToDevice(copy, 0, input, 0, bytes, stream));
            String size = HEADS + " x " + tokens + (batches > 1 ? " x " + batches + " layers" : "");
            return new Row("popularity k=" + K + (batches > 1 ? " (batched)" : ""), size, kernelMicros, bytes / kernelMicros / 1e3,
                    bytes / copyMicros / 1e3, correct);
        }
    }

    private static boolean check(float[] probs, int tokens, int batches, PinnedBuffer result) {
        java.nio.IntBuffer r = result.buffer(0, (int) result.bytes()).asIntBuffer();
        ReferencePopularityCounter oracle = new ReferencePopularityCounter();
        int[] expected = new int[K];
        for (int b = 0; b < batches; b++) {
            oracle.selectTopK(probs, b * HEADS * tokens, HEADS, tokens, tokens, K, expected);
            int[] actual = new int[K];
            r.get(b * K, actual, 0, K);
            Arrays.sort(actual);
            if (r.get(batches * K + b) != K || !Arrays.equals(expected, actual)) {
                return false;
            }
        }
        return true;
    }

    private List<Row> pinnedCopies(CudaStream stream, int bytes) {
        try (PinnedBuffer host = new PinnedBuffer(context, bytes); DeviceBuffer device = new DeviceBuffer(context, bytes)) {
            double h2d = time(stream, () -> CudaCopies.hostToDeviceAsync(device, 0, host, 0, bytes, stream));
            double d2h = time(stream, () -> CudaCopies.deviceToHostAsync(host, 0, device, 0, bytes, stream));
            String size = bytes >= (1 << 20) ? (bytes >> 20) + " MiB" : (bytes >> 10) + " KiB";
            return List.of(new Row("pinned host->device", size, h2d, bytes / h2d / 1e3, Double.NaN, true),
                    new Row("pinned device->host", size, d2h, bytes / d2h / 1e3, Double.NaN, true));
        }
    }

    /** Microseconds per call of {@code call}; see {@link EventTimer}. */
    private double time(CudaStream stream, Runnable call) {
        return EventTimer.microsPerCall(context, stream, iterations, call);
    }

    /** The rows as an aligned text table. */
    public static String table(List<Row> rows) {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "%-38s %-26s %12s %10s %12s %8s %-14s %s%n", "what", "size", "us/call", "GB/s", "copy GB/s",
                "vs copy", "target", "check"));
        for (Row r : rows) {
            boolean kernel = !Double.isNaN(r.copyGbps());
            double target = r.target();
            sb.append(String.format(Locale.ROOT, "%-38s %-26s %12.2f %10.1f %12s %8s %-14s %s%n", r.what(), r.size(), r.micros(), r.gbps(),
                    kernel ? String.format(Locale.ROOT, "%.1f", r.copyGbps()) : "",
                    kernel ? String.format(Locale.ROOT, "%.0f%%", 100 * r.shareOfCopy()) : "",
                    Double.isNaN(target) ? "" : String.format(Locale.ROOT, ">= %.0f%% %s", 100 * target, r.meetsTarget() ? "met" : "MISSED"),
                    kernel ? (r.correct() ? "matches oracle" : "MISMATCH") : ""));
        }
        return sb.toString();
    }

    /** The rows as JSON, for files next to the table. */
    public static String json(List<Row> rows) {
        StringBuilder sb = new StringBuilder("[\n");
        for (int i = 0; i < rows.size(); i++) {
            Row r = rows.get(i);
            sb.append(String.format(Locale.ROOT, "  {\"what\": \"%s\", \"size\": \"%s\", \"microsPerCall\": %.3f, \"gbps\": %.2f, "
                    + "\"copyGbps\": %s, \"targetShareOfCopy\": %s, \"correct\": %b}%s%n", r.what(), r.size(), r.micros(), r.gbps(),
                    Double.isNaN(r.copyGbps()) ? "null" : String.format(Locale.ROOT, "%.2f", r.copyGbps()),
                    Double.isNaN(r.target()) ? "null" : String.format(Locale.ROOT, "%.2f", r.target()), r.correct(),
                    i + 1 < rows.size() ? "," : ""));
        }
        return sb.append("]\n").toString();
    }
}

package io.tierkv.bench;

import io.tierkv.bench.report.Report;
import io.tierkv.core.DType;
import io.tierkv.cuda.driver.CudaContext;
import io.tierkv.cuda.driver.CudaCopies;
import io.tierkv.cuda.driver.CudaEvent;
import io.tierkv.cuda.driver.CudaStream;
import io.tierkv.cuda.driver.DeviceBuffer;
import io.tierkv.model.cuda.CudaDecoder;
import io.tierkv.model.cuda.StepPhases;
import io.tierkv.model.generate.DeviceBudget;
import io.tierkv.model.generate.GenerationResult;
import io.tierkv.model.generate.HostRead;
import io.tierkv.model.llama.LlamaConfig;
import io.tierkv.model.llama.RandomCheckpoint;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.stream.Stream;

/**
 * {@code bench decode --backend cuda}: a random-weight Llama (BF16, written once to a temporary checkpoint) decoded by
 * {@link CudaDecoder}: every KV block on the device, launch by launch and replayed from captured CUDA graphs, then each
 * policy tiered through tiering's CUDA tiers (again both ways, but for placement alone) (the device
 * tier at {@code --budget} of the prompt, as {@link DeviceBudget} counts it for every backend; host blocks read over
 * mapped pinned memory, every one or, with {@code --host-read digest}, the digest-ranked ones). Per row: prefill (in
 * chunks) and decode tokens/s, decode against full on the device, the weight bytes read per second at that rate and
 * their share of a device-to-device copy of the same bytes measured in the same run, the bytes moved between the tiers
 * and the share of an exact read's host bytes read.
 */
final class CudaDecodeBench {
    private final LlamaConfig config;
    private final int promptTokens;
    private final int decodeTokens;
    private final int blockSize;
    private final int repeats;
    private final List<String> policies;
    private final double budget;
    private final HostRead hostRead;
    private final boolean hostMirror;

    /**
     * @param hostMirror run on the host mirror of the device (tests: the same orchestration, no GPU, no copy reference)
     */
    CudaDecodeBench(LlamaConfig config, int promptTokens, int decodeTokens, int blockSize, int repeats, List<String> policies,
                    double budget, HostRead hostRead, boolean hostMirror) {
        this.budget = budget;
        this.config = config;
        this.promptTokens = promptTokens;
        this.decodeTokens = decodeTokens;
        this.blockSize = blockSize;
        this.repeats = repeats;
        this.policies = policies;
        this.hostRead = hostRead;
        this.hostMirror = hostMirror;
    }

    /**
     * One measured configuration: the KV on the device ({@code policy} null; each step replayed from a captured CUDA graph
     * when {@code graphs}) or tiered under {@code policy}.
     */
    private record Mode(String name, String policy, boolean graphs) {
        Mode(String name, String policy) {
            this(name, policy, false);
        }
    }

    Report run(Path out) throws IOException {
        DeviceBudget device = DeviceBudget.of(budget, promptTokens, blockSize, config.layers());
        int[] prompt = new SplittableRandom(7).ints(promptTokens, 3, config.vocabSize()).toArray();
        List<Mode> modes = new ArrayList<>();
        modes.add(new Mode("full on device", null));
        modes.add(new Mode("full on device", null, true));
        modes.add(new Mode("tiered full (placement alone)", "full"));
        for (String p : policies) {
            if (!p.equals("full")) {
                modes.add(new Mode("tiered " + p + (hostRead.digest() ? ", " + hostRead.forCuda() : ""), p));
                modes.add(new Mode("tiered " + p + (hostRead.digest() ? ", " + hostRead.forCuda() : ""), p, true));
            }
        }
        Path dir = Files.createTempDirectory("tierkv-bench-decode-");
        try {
            RandomCheckpoint.write(dir, config, DType.BF16, 1);
            Report report = new Report("decode").setting("backend", hostMirror ? "cuda (host mirror)" : "cuda")
                    .setting("hidden", config.hiddenSize()).setting("layers", config.layers()).setting("promptTokens", promptTokens)
                    .setting("decodeTokens", decodeTokens).setting("blockSize", blockSize).setting("weights", "BF16")
                    .setting("budget", budget).setting("deviceBlocksPerLayer", device.perLayer()).setting("hostRead", hostRead.toString())
                    .column("mode", "KV", "%s", "full on device, or tiered under a policy with the device tier at --budget of the prompt")
                    .column("prefillTokensPerSecond", "prefill tok/s", "%.1f", "prompt tokens per second (in chunks of up to -Dtierkv.prefillChunk rows where the KV store allows)")
                    .column("decodeTokensPerSecond", "decode tok/s", "%.2f", "generated tokens per second")
                    .column("ofFullOnDevice", "of full", "%.2f", "decode tok/s over full on the device's")
                    .column("weightGBps", "weights GB/s", "%.1f", "weight bytes read per second at the decode rate")
                    .column("ofCopy", "of copy", "%.2f", "weights GB/s over a device-to-device copy of the weights' bytes, same run"
                            + " (NaN on the host mirror)")
                    .column("d2hBytes", "d2h B", "%d", "bytes demoted device to host (tiered, best run)")
                    .column("h2dBytes", "h2d B", "%d", "bytes promoted host to device (tiered, best run)")
                    .column("hostReadFraction", "host read", "%.3f", "host bytes read over an exact read's (tiered; 1 in exact mode; NaN on the device alone)")
                    .column("launchMicros", "launch us", "%.1f", "host microseconds per token queueing the step's kernels (best run; StepPhases)")
                    .column("deviceWaitMicros", "wait us", "%.1f", "host microseconds per token waiting for the device: its one read back (best run)")
                    .column("policyMicros", "policy us", "%.1f", "host microseconds per token in the store's append, the policy's observation and the"
                            + " store's step, while the device is idle (best run)");
            double fullRate = Double.NaN;
            double copyGBps = Double.NaN;
            for (Mode mode : modes) {
                int tokens = promptTokens + decodeTokens + 1;
                try (CudaDecoder decoder = mode.policy() == null
                        ? CudaDecoder.load(dir, tokens, blockSize, null, mode.graphs(), hostMirror)
                        : CudaDecoder.loadTiered(dir, tokens, blockSize, device.perLayer(), mode.policy(), null,
                        mode.policy().equals("full") ? HostRead.EXACT : hostRead, hostMirror, mode.graphs())) {
                    if (mode.policy() == null && !mode.graphs()) {
                        System.out.printf(Locale.ROOT, "random Llama, BF16 weights %s on the device, %d layers x %d wide; prompt %d, decode %d%n",
                                Bytes.format(decoder.weightBytes()), config.layers(), config.hiddenSize(), promptTokens, decodeTokens);
                        copyGBps = hostMirror ? Double.NaN : copyGBps(decoder.weightBytes());
                    }
                    GenerationResult best = null;
                    long[] bestMoved = {0, 0};
                    double bestRead = Double.NaN;
                    double[] bestPhases = {Double.NaN, Double.NaN, Double.NaN};
                    for (int r = 0; r < repeats; r++) {
                        var before = decoder.tierStats();
                        if (mode.policy() != null) {
                            DeviceBudget charged = decoder.withDigests(device, tokens);
                            decoder.reset(charged.context(config.layers(), promptTokens), charged.blocks(), Integer.MAX_VALUE);
                        }
                        GenerationResult g = decoder.generate(prompt, decodeTokens + 1, -1, null);
                        System.out.printf(Locale.ROOT, "  run %d %-40s prefill %.1f tok/s, decode %.2f tok/s%n", r + 1,
                                mode.name() + (mode.graphs() ? ", CUDA graphs" : ""),
                                g.prefillTokensPerSecond(), g.decodeTokensPerSecond());
                        if (best == null || g.decodeTokensPerSecond() > best.decodeTokensPerSecond()) {
                            best = g;
                            StepPhases ph = decoder.stepPhases();
                            bestPhases = new double[] {ph.micros(StepPhases.Phase.LAUNCH), ph.micros(StepPhases.Phase.DEVICE_WAIT),
                                    ph.micros(StepPhases.Phase.APPEND) + ph.micros(StepPhases.Phase.OBSERVE) + ph.micros(StepPhases.Phase.STEP)};
                            var after = decoder.tierStats();
                            if (after != null) {
                                var run = after.since(before);
                                bestMoved = new long[] {run.d2hBytes(), run.h2dBytes()};
                                bestRead = decoder.hostReadStats().fraction();
                            }
                        }
                    }
                    if (mode.policy() == null && !mode.graphs()) {
                        fullRate = best.decodeTokensPerSecond();
                    }
                    double weightGBps = decoder.weightBytes() * best.decodeTokensPerSecond() / 1e9;
                    String label = mode.name() + (decoder.fusedKernels() ? "" : ", unfused kernels")
                            + (decoder.cudaGraphs() ? (decoder.graphLaunches() > 0 ? ", CUDA graphs" : ", CUDA graphs (no step capturable)")
                            : !mode.graphs() ? ""
                            : decoder.fusedKernels() ? ", CUDA graphs refused (see stderr)" : ", no CUDA graphs without the fused kernels");
                    report.row(label, best.prefillTokensPerSecond(), best.decodeTokensPerSecond(), best.decodeTokensPerSecond() / fullRate,
                            weightGBps, weightGBps / copyGBps, bestMoved[0], bestMoved[1], bestRead, bestPhases[0], bestPhases[1],
                            bestPhases[2]);
                }
            }
            System.out.println(report.markdown());
            report.writeJson(out.resolve("decode.json"));
            report.writeCsv(out.resolve("decode.csv"));
            System.out.println("report: " + out.toAbsolutePath().resolve("decode.json"));
            return report;
        } finally {
            try (Stream<Path> files = Files.walk(dir)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    /** GB/s of a device-to-device copy of {@code bytes} (read once, written once), timed by events over 20 copies after 3. */
    private static double copyGBps(long bytes) {
        try (CudaContext context = CudaContext.primary(0);
             CudaStream stream = new CudaStream(context);
             DeviceBuffer src = new DeviceBuffer(context, bytes);
             DeviceBuffer dst = new DeviceBuffer(context, bytes);
             CudaEvent start = new CudaEvent(context);
             CudaEvent stop = new CudaEvent(context)) {
            for (int i = 0; i < 3; i++) {
                CudaCopies.deviceToDevice(dst, 0, src, 0, bytes, stream);
            }
            int n = 20;
            start.record(stream);
            for (int i = 0; i < n; i++) {
                CudaCopies.deviceToDevice(dst, 0, src, 0, bytes, stream);
            }
            stop.record(stream);
            stop.synchronize();
            return bytes * (double) n / (stop.elapsedMillisSince(start) * 1e6);
        }
    }
}

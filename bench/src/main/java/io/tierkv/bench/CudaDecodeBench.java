package io.tierkv.bench;

import io.tierkv.bench.report.Report;
import io.tierkv.core.DType;
import io.tierkv.model.cuda.CudaDecoder;
import io.tierkv.model.generate.GenerationResult;
import io.tierkv.model.llama.LlamaConfig;
import io.tierkv.model.llama.RandomCheckpoint;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.stream.Stream;

/**
 * {@code bench decode --backend cuda}: a random-weight Llama (BF16, written once to a temporary checkpoint) decoded by
 * {@link CudaDecoder}, with every KV block on the device and then tiered (tiering's CUDA tiers, the device tier at
 * {@code --budget} of the prompt, host blocks read over mapped pinned memory): prefill (token by token) and decode
 * tokens/s, and the weight bytes read per second at that decode rate. Placement moves the blocks (policy {@code full});
 * the other policies are named and skipped.
 */
final class CudaDecodeBench {
    private final LlamaConfig config;
    private final int promptTokens;
    private final int decodeTokens;
    private final int blockSize;
    private final int repeats;
    private final List<String> policies;
    private final double budget;

    CudaDecodeBench(LlamaConfig config, int promptTokens, int decodeTokens, int blockSize, int repeats, List<String> policies,
                    double budget) {
        this.budget = budget;
        this.config = config;
        this.promptTokens = promptTokens;
        this.decodeTokens = decodeTokens;
        this.blockSize = blockSize;
        this.repeats = repeats;
        this.policies = policies;
    }

    void run(Path out) throws IOException {
        List<String> skipped = policies.stream().filter(p -> !p.equals("full")).toList();
        if (!skipped.isEmpty()) {
            System.err.println("tierkv: bench decode --backend cuda runs policy full, on the device and tiered at --budget (placement"
                    + " moves the blocks; no popularity policy in the loop yet); skipped " + skipped);
        }
        int perLayer = Math.max(1, (int) Math.floor(budget * promptTokens / blockSize));
        int[] prompt = new SplittableRandom(7).ints(promptTokens, 3, config.vocabSize()).toArray();
        Path dir = Files.createTempDirectory("tierkv-bench-decode-");
        try {
            RandomCheckpoint.write(dir, config, DType.BF16, 1);
            Report report = new Report("decode").setting("backend", "cuda").setting("hidden", config.hiddenSize())
                    .setting("layers", config.layers()).setting("promptTokens", promptTokens).setting("decodeTokens", decodeTokens)
                    .setting("blockSize", blockSize).setting("weights", "BF16").setting("budget", budget)
                    .column("mode", "KV", "%s", "full on device, or tiered with the device tier at --budget of the prompt")
                    .column("prefillTokensPerSecond", "prefill tok/s", "%.1f", "prompt tokens per second (token by token)")
                    .column("decodeTokensPerSecond", "decode tok/s", "%.2f", "generated tokens per second")
                    .column("weightGBps", "weights GB/s", "%.1f", "weight bytes read per second at the decode rate")
                    .column("d2hBytes", "d2h B", "%d", "bytes demoted device to host (tiered)")
                    .column("h2dBytes", "h2d B", "%d", "bytes promoted host to device (tiered)");
            for (int tiered = 0; tiered < 2; tiered++) {
                String mode = tiered == 0 ? "full on device" : "tiered " + perLayer + " blocks/layer";
                try (CudaDecoder decoder = tiered == 0 ? CudaDecoder.load(dir, promptTokens + decodeTokens + 1, blockSize, null)
                        : CudaDecoder.loadTiered(dir, promptTokens + decodeTokens + 1, blockSize, perLayer)) {
                    if (tiered == 0) {
                        System.out.printf(Locale.ROOT, "random Llama, BF16 weights %s on the device, %d layers x %d wide; prompt %d, decode %d%n",
                                Bytes.format(decoder.weightBytes()), config.layers(), config.hiddenSize(), promptTokens, decodeTokens);
                    }
                    GenerationResult best = null;
                    for (int r = 0; r < repeats; r++) {
                        GenerationResult g = decoder.generate(prompt, decodeTokens + 1, -1, null);
                        System.out.printf(Locale.ROOT, "  run %d %-26s prefill %.1f tok/s, decode %.2f tok/s%n", r + 1, mode,
                                g.prefillTokensPerSecond(), g.decodeTokensPerSecond());
                        if (best == null || g.decodeTokensPerSecond() > best.decodeTokensPerSecond()) {
                            best = g;
                        }
                    }
                    var st = decoder.tierStats();
                    report.row(mode, best.prefillTokensPerSecond(), best.decodeTokensPerSecond(),
                            decoder.weightBytes() * best.decodeTokensPerSecond() / 1e9, st == null ? 0L : st.d2hBytes(),
                            st == null ? 0L : st.h2dBytes());
                }
            }
            System.out.println(report.markdown());
            report.writeJson(out.resolve("decode.json"));
            report.writeCsv(out.resolve("decode.csv"));
            System.out.println("report: " + out.toAbsolutePath().resolve("decode.json"));
        } finally {
            try (Stream<Path> files = Files.walk(dir)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }
}

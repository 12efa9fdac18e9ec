package io.tierkv.bench;

import io.tierkv.bench.report.Report;
import io.tierkv.core.policy.Policies;
import io.tierkv.model.cuda.CudaDecoder;
import io.tierkv.model.generate.DecodeProfile;
import io.tierkv.model.generate.GenerationResult;
import io.tierkv.model.generate.PrefillMode;
import io.tierkv.model.generate.Sampler;
import io.tierkv.model.generate.HostRead;
import io.tierkv.model.generate.TieredSession;
import io.tierkv.model.llama.LlamaConfig;
import io.tierkv.model.llama.LlamaWeights;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import org.bytedeco.pytorch.global.torch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code tierkv bench decode}: prefill and decode speed of a Llama model with random weights (about 100M
 * parameters by default) through the tiered cache, per policy, and the share of decode time spent on
 * popularity counting and tier bookkeeping.
 */
@Command(name = "decode", mixinStandardHelpOptions = true,
        description = "Prefill and decode tokens/s of a random-weight Llama (default ~100M parameters) through the tiered"
            + " cache, per policy, with the share of decode time spent on popularity counting and tier bookkeeping.")
final class BenchDecodeCommand implements Callable<Integer> {
    @Mixin
    OutputOption output;

    @Option(names = "--hidden", defaultValue = "768", description = "Model width (default: ${DEFAULT-VALUE}).")
    int hidden;

    @Option(names = "--layers", defaultValue = "12", description = "Layers (default: ${DEFAULT-VALUE}).")
    int layers;

    @Option(names = "--heads", defaultValue = "12", description = "Query heads (default: ${DEFAULT-VALUE}).")
    int heads;

    @Option(names = "--kv-heads", defaultValue = "4", description = "KV heads (default: ${DEFAULT-VALUE}).")
    int kvHeads;

    @Option(names = "--intermediate", defaultValue = "2048", description = "SwiGLU width (default: ${DEFAULT-VALUE}).")
    int intermediate;

    @Option(names = "--vocab", defaultValue = "32000", description = "Vocabulary (default: ${DEFAULT-VALUE}).")
    int vocab;

    @Option(names = "--prompt-tokens", defaultValue = "512", description = "Prompt length (default: ${DEFAULT-VALUE}).")
    int promptTokens;

    @Option(names = "--decode-tokens", defaultValue = "96", description = "Generated tokens (default: ${DEFAULT-VALUE}).")
    int decodeTokens;

    @Option(names = "--budget", defaultValue = "0.25", description = "Device budget, fraction of the prompt (default: ${DEFAULT-VALUE}).")
    double budget;

    @Option(names = "--policies", split = ",", defaultValue = "full,hierarchical", description = "Policies (default: ${DEFAULT-VALUE}).")
    List<String> policies;

    @Option(names = "--block-size", defaultValue = "16", description = "Tokens per block (default: ${DEFAULT-VALUE}).")
    int blockSize;

    @Option(names = "--repeats", defaultValue = "2", description = "Runs per policy, alternating, best kept (default: ${DEFAULT-VALUE}).")
    int repeats;

    @Option(names = "--threads", defaultValue = "0", description = "libtorch intra-op threads, 0 for all cores (default: ${DEFAULT-VALUE}).")
    int threads;

    @Option(names = "--host-read", defaultValue = "exact", paramLabel = "MODE",
            description = "exact, or digest[:blocks=N] (see generate --help) (default: ${DEFAULT-VALUE}).")
    String hostRead;

    @Option(names = "--backend", defaultValue = "cpu",
            description = "cpu (libtorch, the tiered cache), cuda (the CUDA decoder: random BF16 weights, full on the device, then"
                    + " each policy tiered at --budget, with --host-read; weight streaming against a device-to-device copy) or auto"
                    + " (default: ${DEFAULT-VALUE}).")
    String backend;

    @Override
    public Integer call() throws Exception {
        ModelOptions backendOption = new ModelOptions();
        backendOption.backend = backend;
        backendOption.backendName();
        Options.fraction("--budget", budget);
        Options.atLeast("--threads", threads, 0);
        Options.positive("--hidden", hidden);
        Options.positive("--layers", layers);
        Options.positive("--heads", heads);
        Options.positive("--kv-heads", kvHeads);
        Options.positive("--intermediate", intermediate);
        Options.inRange("--vocab", vocab, 4, Integer.MAX_VALUE);
        Options.positive("--prompt-tokens", promptTokens);
        Options.positive("--decode-tokens", decodeTokens);
        Options.inRange("--block-size", blockSize, 1, ModelOptions.MAX_BLOCK_SIZE);
        Options.positive("--repeats", repeats);
        if (hidden % heads != 0) {
            throw new IllegalArgumentException("--hidden " + hidden + " must be a multiple of --heads " + heads);
        }
        PolicyNames.models("--policies", policies);
        var dir = output.prepare("bench-decode");
        HostRead read = HostRead.parse(hostRead);
        if (backendOption.useCuda(true)) {
            LlamaConfig cc = new LlamaConfig(hidden, intermediate, layers, heads, kvHeads, hidden / heads, vocab,
                    promptTokens + decodeTokens + 16, 1e-5, 10000.0, null, true, 1, 2);
            new CudaDecodeBench(cc, promptTokens, decodeTokens, blockSize, repeats, policies, budget, read, CudaDecoder.hostMirrorConfigured()).run(dir);
            return 0;
        }
        torch.set_num_threads(threads > 0 ? threads : Runtime.getRuntime().availableProcessors());
        ModelOptions.warnIfSpinning();
        LlamaConfig c = new LlamaConfig(hidden, intermediate, layers, heads, kvHeads, hidden / heads, vocab,
                promptTokens + decodeTokens + 16, 1e-5, 10000.0, null, true, 1, 2);
        int[] prompt = new SplittableRandom(7).ints(promptTokens, 3, vocab).toArray();
        Report report = new Report("decode")
                .setting("hidden", hidden).setting("layers", layers).setting("heads", heads).setting("kvHeads", kvHeads)
                .setting("intermediate", intermediate).setting("vocab", vocab).setting("promptTokens", promptTokens)
                .setting("decodeTokens", decodeTokens).setting("budget", budget).setting("hostRead", read.toString()).setting("blockSize", blockSize)
                .setting("ompWaitPolicy", String.valueOf(System.getenv("OMP_WAIT_POLICY")))
                .setting("threads", torch.get_num_threads())
                .column("policy", "policy", "%s", "KV policy")
                .column("parameters", "params", "%d", "model parameters")
                .column("prefillTokensPerSecond", "prefill tok/s", "%.1f", "prompt tokens per second (dense prefill)")
                .column("decodeTokensPerSecond", "decode tok/s", "%.2f", "generated tokens per second")
                .column("policyShare", "policy share", "%.3f", "share of decode time in popularity counting")
                .column("tierShare", "tier share", "%.3f", "share of decode time in tier bookkeeping (appends, views, masks, steps)")
                .column("overheadShare", "overhead", "%.3f", "policy + tier share of decode time");
        try (LlamaWeights w = LlamaWeights.random(c, 1, 0.02, false)) {
            System.out.printf(Locale.ROOT, "random Llama, %,d parameters, %d layers x %d wide; prompt %d, decode %d, budget %.0f%%%n",
                    w.parameterCount(), layers, hidden, promptTokens, decodeTokens, budget * 100);
            GenerationResult[] best = new GenerationResult[policies.size()];
            double[] policyShare = new double[policies.size()];
            double[] tierShare = new double[policies.size()];
            for (int r = 0; r < repeats; r++) {
                for (int i = 0; i < policies.size(); i++) {
                    DecodeProfile prof = new DecodeProfile();
                    GenerationResult g = run(w, c, prompt, policies.get(i), prof);
                    if (best[i] == null || g.decodeTokensPerSecond() > best[i].decodeTokensPerSecond()) {
                        best[i] = g;
                        policyShare[i] = prof.policyNanos() / (double) prof.totalNanos();
                        tierShare[i] = prof.tierNanos() / (double) prof.totalNanos();
                    }
                    System.out.printf(Locale.ROOT, "  run %d %-14s prefill %.1f tok/s, decode %.2f tok/s%n", r + 1, policies.get(i),
                            g.prefillTokensPerSecond(), g.decodeTokensPerSecond());
                }
            }
            for (int i = 0; i < policies.size(); i++) {
                report.row(policies.get(i), w.parameterCount(), best[i].prefillTokensPerSecond(), best[i].decodeTokensPerSecond(),
                        policyShare[i], tierShare[i], policyShare[i] + tierShare[i]);
            }
        }
        System.out.println(report.markdown());
        report.writeJson(dir.resolve("decode.json"));
        report.writeCsv(dir.resolve("decode.csv"));
        System.out.println("report: " + dir.toAbsolutePath().resolve("decode.json"));
        return 0;
    }

    private GenerationResult run(LlamaWeights w, LlamaConfig c, int[] prompt, String spec, DecodeProfile into) {
        try (TieredSession session = new TieredSession(w, Policies.create(spec), prompt.length, budget, blockSize, decodeTokens + 1, 0,
                Double.POSITIVE_INFINITY, HostRead.parse(hostRead))) {
            GenerationResult g = session.generate(prompt, decodeTokens + 1, PrefillMode.PAPER, 40, Sampler.greedy(), -1, null, null);
            into.add(session.decoder().profile());
            return g;
        }
    }
}

package io.tierkv.bench;

import io.tierkv.bench.report.Report;
import io.tierkv.core.DType;
import io.tierkv.core.KvLayout;
import io.tierkv.core.policy.Policies;
import io.tierkv.model.cuda.CudaDecoder;
import io.tierkv.model.generate.DeviceBudget;
import io.tierkv.model.generate.GenerationResult;
import io.tierkv.model.generate.HostRead;
import io.tierkv.model.generate.PrefillMode;
import io.tierkv.model.generate.RemotePrefill;
import io.tierkv.model.generate.Sampler;
import io.tierkv.model.generate.TieredSession;
import io.tierkv.model.llama.LlamaCheckpoint;
import io.tierkv.model.llama.LlamaConfig;
import io.tierkv.model.llama.LlamaWeights;
import io.tierkv.tiering.remote.RemoteKvTier;
import io.tierkv.tiering.remote.RemoteStats;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code tierkv bench remote}: prompts that share long prefixes (documents, system prompts), served by two
 * processes through one remote tier. A writer process (this command started again with {@code --role writer})
 * serves the first prompt of each prefix and exits; then this process runs every prompt twice, without and with
 * the remote tier, and compares time to first token, prompt tokens computed, bytes moved, hit ratio, and whether
 * the generated tokens are the same. On the CPU (libtorch, F32 KV blocks) or, with {@code --backend cuda}, on the CUDA
 * decoder (KV blocks in the model's dtype), both processes alike.
 */
@Command(name = "remote", mixinStandardHelpOptions = true,
        description = {"N prompts over shared prefixes in two processes through a remote tier (--remote URI): time to first"
            + " token and prefill tokens computed with the remote tier against without, bytes moved, hit ratio."})
final class BenchRemoteCommand implements Callable<Integer> {
    @Mixin
    OutputOption output;

    @Mixin
    ModelOptions modelOptions;

    @Mixin
    RemoteOptions remoteOptions;

    @Option(names = "--sequences", defaultValue = "8", description = "Prompts served (default: ${DEFAULT-VALUE}).")
    int sequences;

    @Option(names = "--prefixes", defaultValue = "2", description = "Distinct shared prefixes; prompt i uses prefix i mod this (default: ${DEFAULT-VALUE}).")
    int prefixes;

    @Option(names = "--prefix-tokens", defaultValue = "512", description = "Tokens of each shared prefix (default: ${DEFAULT-VALUE}).")
    int prefixTokens;

    @Option(names = "--suffix-tokens", defaultValue = "32", description = "Tokens of each prompt's own suffix (default: ${DEFAULT-VALUE}).")
    int suffixTokens;

    @Option(names = "--max-tokens", defaultValue = "8", description = "Tokens generated per prompt (default: ${DEFAULT-VALUE}).")
    int maxTokens;

    @Option(names = "--budget", defaultValue = "0.25", description = "Device budget as a fraction of the prompt (default: ${DEFAULT-VALUE}).")
    double budget;

    @Option(names = "--seed", defaultValue = "11", description = "Seed of the prompts' token ids (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--role", defaultValue = "main", hidden = true, description = "main, or writer (the second process).")
    String role;

    @Override
    public Integer call() throws Exception {
        validate();
        Path dir = modelOptions.modelDir();
        boolean cuda = modelOptions.useCuda(null);
        try (Server server = cuda ? new CudaServer(dir) : new CpuServer(dir)) {
            List<int[]> prompts = prompts(server.config());
            if (role.equals("writer")) {
                try (RemoteKvTier tier = remoteOptions.open(dir, server.layout())) {
                    for (int i = 0; i < Math.min(prefixes, sequences); i++) {
                        server.run(prompts.get(i), tier);
                    }
                    tier.awaitWrites(tier.config().writeTimeout());
                    RemoteStats s = tier.stats();
                    System.out.printf(Locale.ROOT, "writer process: %d prompts served, %d blocks written (%s)%n",
                            Math.min(prefixes, sequences), s.writes(), Bytes.format(s.bytesWritten()));
                }
                return 0;
            }
            server.run(warmUpPrompt(server.config()), null); // JIT, libtorch or kernel warm-up, not measured
            Measured without = new Measured();
            for (int[] p : prompts) {
                without.add(server.run(p, null), null, p.length);
            }
            startWriter(cuda);
            Measured with = new Measured();
            try (RemoteKvTier tier = remoteOptions.open(dir, server.layout())) {
                for (int[] p : prompts) {
                    Run r = server.run(p, tier);
                    with.add(r, r.remote, p.length);
                }
                tier.awaitWrites(tier.config().writeTimeout());
                with.stats = tier.stats();
            }
            report(without, with, cuda ? "cuda" : "cpu");
        }
        return 0;
    }

    private void validate() {
        if (!remoteOptions.enabled()) {
            throw new IllegalArgumentException("bench remote needs --remote URI (a redis:// or redis-cluster:// store)");
        }
        remoteOptions.validate();
        modelOptions.validate(true);
        if (sequences <= 0 || prefixes <= 0 || prefixTokens <= 0 || suffixTokens <= 0 || maxTokens <= 0) {
            throw new IllegalArgumentException("--sequences, --prefixes, --prefix-tokens, --suffix-tokens and --max-tokens must be > 0");
        }
        if (!(budget > 0 && budget <= 1)) {
            throw new IllegalArgumentException("--budget must be a fraction in (0, 1], was " + budget);
        }
        if (!role.equals("main") && !role.equals("writer")) {
            throw new IllegalArgumentException("--role must be main or writer, was " + role);
        }
    }

    /** Prompt i: prefix (i mod prefixes), then its own suffix; token ids drawn from the vocabulary past the specials. */
    private List<int[]> prompts(LlamaConfig c) {
        SplittableRandom random = new SplittableRandom(seed);
        int[][] shared = new int[prefixes][];
        for (int i = 0; i < prefixes; i++) {
            shared[i] = random.ints(prefixTokens, 3, c.vocabSize()).toArray();
        }
        List<int[]> out = new ArrayList<>();
        for (int i = 0; i < sequences; i++) {
            int[] p = Arrays.copyOf(shared[i % prefixes], prefixTokens + suffixTokens);
            int[] suffix = random.ints(suffixTokens, 3, c.vocabSize()).toArray();
            System.arraycopy(suffix, 0, p, prefixTokens, suffixTokens);
            out.add(p);
        }
        return out;
    }

    private int[] warmUpPrompt(LlamaConfig c) {
        return new SplittableRandom(seed ^ 0x5DEECE66DL).ints(prefixTokens + suffixTokens, 3, c.vocabSize()).toArray();
    }

    private record Run(GenerationResult result, RemotePrefill remote) {
    }

    /** Serves one prompt, greedily, {@code --max-tokens} tokens, hierarchical at {@code --budget}, with the remote tier or not. */
    private interface Server extends AutoCloseable {
        LlamaConfig config();

        /** The KV layout its tiers hold: the remote tier's namespace must match it. */
        KvLayout layout();

        Run run(int[] prompt, RemoteKvTier tier);

        @Override
        void close();
    }

    /** libtorch on the CPU: a fresh {@link TieredSession} per prompt (F32 KV blocks). */
    private final class CpuServer implements Server {
        private final LlamaWeights w;

        CpuServer(Path dir) {
            w = LlamaCheckpoint.load(dir);
            modelOptions.applyThreads(w.config);
        }

        @Override
        public LlamaConfig config() {
            return w.config;
        }

        @Override
        public KvLayout layout() {
            LlamaConfig c = w.config;
            return new KvLayout(c.layers(), c.kvHeads(), c.headDim(), DType.F32, modelOptions.blockSize);
        }

        @Override
        public Run run(int[] prompt, RemoteKvTier tier) {
            try (TieredSession s = new TieredSession(w, Policies.create("hierarchical"), prompt.length, budget, modelOptions.blockSize,
                    maxTokens, 0, modelOptions.hostBudget())) {
                RemotePrefill r = tier == null ? null : s.useRemote(tier);
                GenerationResult g = s.generate(prompt, maxTokens, PrefillMode.PAPER, 40, Sampler.greedy(), w.config.eosTokenId(), null,
                        null);
                return new Run(g, r);
            }
        }

        @Override
        public void close() {
            w.close();
        }
    }

    /** The CUDA decoder, loaded once; per prompt a fresh sequence at the same device budget as the CPU's session (KV in the model's dtype). */
    private final class CudaServer implements Server {
        private final Path dir;
        private final CudaDecoder decoder;

        CudaServer(Path dir) {
            this.dir = dir;
            LlamaConfig c = LlamaConfig.readDir(dir);
            int tokens = prefixTokens + suffixTokens + maxTokens;
            int perLayer = DeviceBudget.of(budget, prefixTokens + suffixTokens, modelOptions.blockSize, c.layers()).perLayer();
            decoder = CudaDecoder.loadTiered(dir, tokens, modelOptions.blockSize, perLayer, "hierarchical", null, HostRead.EXACT);
        }

        @Override
        public LlamaConfig config() {
            return decoder.config();
        }

        @Override
        public KvLayout layout() {
            return CudaDecoder.kvLayout(dir, modelOptions.blockSize, null);
        }

        @Override
        public Run run(int[] prompt, RemoteKvTier tier) {
            int layers = decoder.config().layers();
            DeviceBudget b = DeviceBudget.of(budget, prompt.length, modelOptions.blockSize, layers);
            decoder.reset(b.context(layers, prompt.length), b.blocks(), b.hostBlocks(modelOptions.hostBudget()));
            RemotePrefill r = tier == null ? null : decoder.remotePrefill(tier);
            GenerationResult g = decoder.generate(prompt, maxTokens, decoder.config().eosTokenId(), null, null, false, r);
            return new Run(g, r);
        }

        @Override
        public void close() {
            decoder.close();
        }
    }

    /** Runs this command again in a second JVM as the writer, with the same options, and waits for it. */
    private void startWriter(boolean cuda) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
        if (cuda && CudaDecoder.hostMirrorConfigured()) { // set in this JVM, maybe not on its command line: the writer runs there too
            cmd.add("-Dtierkv.hostMirror=true");
        }
        // The jar's manifest exports this to Agrona under -jar; started by class name, the JVM needs it said.
        cmd.add("--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED");
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), TierKv.class.getName(), "bench", "remote", "--role", "writer",
                "--backend", cuda ? "cuda" : "cpu",
                "--remote", remoteOptions.uri, "--remote-timeout-ms", String.valueOf(remoteOptions.timeoutMillis),
                "--remote-ttl", String.valueOf(remoteOptions.ttlSeconds), "--remote-write", remoteOptions.write,
                "--block-size", String.valueOf(modelOptions.blockSize), "--threads", String.valueOf(modelOptions.threads),
                "--sequences", String.valueOf(sequences), "--prefixes", String.valueOf(prefixes),
                "--prefix-tokens", String.valueOf(prefixTokens), "--suffix-tokens", String.valueOf(suffixTokens),
                "--max-tokens", String.valueOf(maxTokens), "--budget", String.valueOf(budget), "--seed", String.valueOf(seed)));
        if (modelOptions.model != null) {
            cmd.addAll(List.of("--model", modelOptions.model.toString()));
        }
        if (modelOptions.hostBudget != null) {
            cmd.addAll(List.of("--host-budget", String.valueOf(modelOptions.hostBudget)));
        }
        Process p = new ProcessBuilder(cmd).inheritIO().start();
        int rc = p.waitFor();
        if (rc != 0) {
            throw new IOException("the writer process exited with " + rc);
        }
    }

    /** One mode's figures over all prompts. */
    private static final class Measured {
        final List<int[]> tokens = new ArrayList<>();
        final List<Double> ttftMillis = new ArrayList<>();
        long computed;
        long prompt;
        RemoteStats stats;

        void add(Run r, RemotePrefill remote, int promptTokens) {
            tokens.add(r.result().tokens());
            ttftMillis.add(r.result().prefillNanos() / 1e6);
            prompt += promptTokens;
            computed += promptTokens - (remote == null ? 0 : remote.skipped());
        }

        double meanTtft() {
            return ttftMillis.stream().mapToDouble(Double::doubleValue).average().orElse(0);
        }

        double medianTtft() {
            double[] t = ttftMillis.stream().mapToDouble(Double::doubleValue).sorted().toArray();
            return t.length == 0 ? 0 : t.length % 2 == 1 ? t[t.length / 2] : (t[t.length / 2 - 1] + t[t.length / 2]) / 2;
        }
    }

    private void report(Measured without, Measured with, String backend) throws IOException {
        int same = 0;
        for (int i = 0; i < without.tokens.size(); i++) {
            same += Arrays.equals(without.tokens.get(i), with.tokens.get(i)) ? 1 : 0;
        }
        RemoteStats s = with.stats;
        Report report = new Report("remote").setting("backend", backend)
                .setting("sequences", sequences).setting("prefixes", prefixes).setting("prefixTokens", prefixTokens)
                .setting("suffixTokens", suffixTokens).setting("maxTokens", maxTokens).setting("budget", budget)
                .setting("blockSize", modelOptions.blockSize).setting("seed", seed)
                .column("mode", "remote tier", "%s", "without or with the remote tier")
                .column("prefillTokensComputed", "prefill tokens computed", "%d", "prompt tokens prefill computed, all prompts")
                .column("promptTokens", "prompt tokens", "%d", "prompt tokens, all prompts")
                .column("ttftMeanMillis", "TTFT mean ms", "%.1f", "time to first token (prompt processing), mean")
                .column("ttftMedianMillis", "TTFT median ms", "%.1f", "time to first token, median")
                .column("bytesRead", "read", "%s", "bytes loaded from the remote tier")
                .column("bytesWritten", "written", "%s", "bytes written to the remote tier by this process")
                .column("hitRatio", "hit ratio", "%.3f", "blocks found over blocks looked up")
                .column("identical", "same tokens", "%s", "prompts whose generated tokens equal the run without the remote tier");
        report.row("without", without.computed, without.prompt, without.meanTtft(), without.medianTtft(), "-", "-", 0.0,
                sequences + "/" + sequences);
        report.row("with", with.computed, with.prompt, with.meanTtft(), with.medianTtft(), Bytes.format(s.bytesRead()),
                Bytes.format(s.bytesWritten()), s.hitRatio(), same + "/" + sequences);
        System.out.println(report.markdown());
        System.out.printf(Locale.ROOT, "TTFT with / without: %.2f (mean), %.2f (median); prefill tokens computed with / without: %.3f;"
                        + " lookup p50 %d us, p99 %d us%n", with.meanTtft() / without.meanTtft(), with.medianTtft() / without.medianTtft(),
                with.computed / (double) without.computed, s.lookupP50Micros(), s.lookupP99Micros());
        Path dir = output.dir("bench-remote");
        report.writeJson(dir.resolve("remote.json"));
        report.writeCsv(dir.resolve("remote.csv"));
        System.out.println("report: " + dir.toAbsolutePath().resolve("remote.json"));
    }
}

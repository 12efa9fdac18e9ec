package io.tierkv.bench;

import io.tierkv.core.policy.KvPolicy;
import io.tierkv.model.generate.DecodeMetrics;
import io.tierkv.model.generate.GenerationResult;
import io.tierkv.model.generate.PrefillMode;
import io.tierkv.model.generate.RemotePrefill;
import io.tierkv.model.generate.Sampler;
import io.tierkv.model.generate.HostRead;
import io.tierkv.model.generate.HostReadStats;
import io.tierkv.model.generate.TieredSession;
import io.tierkv.model.io.TextStream;
import io.tierkv.model.io.TextTokenizer;
import io.tierkv.model.io.TokenizerCheck;
import io.tierkv.model.llama.LlamaCheckpoint;
import io.tierkv.model.llama.LlamaConfig;
import io.tierkv.model.llama.LlamaWeights;
import io.tierkv.model.task.ReadingPrompt;
import io.tierkv.tiering.TierStats;
import io.tierkv.tiering.remote.RemoteKvTier;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.HdrHistogram.Histogram;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code tierkv generate}: streams a completion with a KV policy and tiering in the loop. */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Stream a completion from a checkpoint with a KV policy and tiering in the loop.")
final class GenerateCommand implements Callable<Integer> {
    @Mixin
    ModelOptions modelOptions;

    @Mixin
    OutputOption output;

    @Option(names = "--prompt", description = "The prompt text (default: a held-out prompt of the reading suite, see --type,"
            + " --position, --index; its expected answer is printed after the completion).")
    String prompt;

    @Mixin
    SuitePromptOptions suite;

    @Option(names = "--chat", description = "Send --prompt as a user message through the model's chat template"
            + " (tokenizer_config.json's chat_template).")
    boolean chat;

    @Mixin
    RemoteOptions remoteOptions;

    @Option(names = "--policy", defaultValue = "hierarchical", description = "KV policy (default: ${DEFAULT-VALUE}); one of "
            + "full, hierarchical, streaming, streaming-paper, streaming-original, snapkv, h2o, with options as name:k=v,...")
    String policySpec;

    @Option(names = "--budget", defaultValue = "0.25", description = "Device budget as a fraction of the prompt (default: ${DEFAULT-VALUE}).")
    double budget;

    @Option(names = "--max-tokens", defaultValue = "64", description = "Tokens to generate at most (default: ${DEFAULT-VALUE}).")
    int maxTokens;

    @Option(names = "--temperature", defaultValue = "0", description = "0 for greedy (default), else sampling temperature.")
    double temperature;

    @Option(names = "--top-p", defaultValue = "1.0", description = "Nucleus sampling mass (default: ${DEFAULT-VALUE}).")
    double topP;

    @Option(names = "--seed", defaultValue = "0", description = "Sampling seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--mode", defaultValue = "paper", description = "paper (dense prefill) or chunked (default: ${DEFAULT-VALUE}).")
    String mode;

    @Option(names = "--chunk", defaultValue = "40", description = "Prompt chunk in chunked mode (default: ${DEFAULT-VALUE}).")
    int chunk;

    @Option(names = "--kv-dtype", defaultValue = "model", paramLabel = "TYPE",
            description = "The KV blocks' element type with --backend cuda: model (the checkpoint's), f32, f16 or bf16; the CPU"
                    + " backend keeps F32 (default: ${DEFAULT-VALUE}).")
    String kvDtype;

    /** The parsed {@code --kv-dtype}: null for the model's. */
    io.tierkv.core.DType kvDtype() {
        return kvDtype.equalsIgnoreCase("model") ? null : io.tierkv.core.DType.parse(kvDtype);
    }

    @Override
    public Integer call() throws Exception {
        // Every option, the output directory and the model's small files are checked before the weights load.
        modelOptions.validate(true);
        try {
            kvDtype();
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--kv-dtype: " + e.getMessage() + " or model");
        }
        if (chat && prompt == null) {
            throw new IllegalArgumentException("--chat needs --prompt (the user message)");
        }
        KvPolicy policy = PolicyNames.model("--policy", policySpec);
        PrefillMode prefill = PrefillMode.parse(mode);
        Options.fraction("--budget", budget);
        Options.positive("--max-tokens", maxTokens);
        Options.positive("--chunk", chunk);
        Options.nonNegativeFinite("--temperature", temperature);
        Options.fraction("--top-p", topP);
        ReadingPrompt task = prompt == null ? suite.prompt() : null;
        Path out = output.prepare("generate");
        remoteOptions.validate();
        Path dir = modelOptions.modelDir();
        LlamaConfig config = LlamaConfig.readDir(dir);
        TokenizerCheck.check(dir, config.vocabSize());
        try (TextTokenizer tok = TextTokenizer.load(dir)) {
            String text = task == null ? prompt : task.promptText();
            int[] ids = task != null ? tok.encode(text) : chat ? tok.encodeChat(text) : tok.encodePrompt(text);
            if (ids.length == 0) {
                throw new IllegalArgumentException("--prompt encodes to no tokens");
            }
            if ((long) ids.length + maxTokens > config.maxPositions()) {
                throw new IllegalArgumentException("--max-tokens " + maxTokens + ": the prompt's " + ids.length + (ids.length == 1 ? " token" : " tokens") + " plus "
                        + maxTokens + " generated exceed the model's max_position_embeddings " + config.maxPositions());
            }
            if (modelOptions.useCuda(true)) {
                new CudaGenerate(tok, chat, suite).run(dir, task, text, ids, policySpec, policy, budget, maxTokens, modelOptions.blockSize, kvDtype(),
                        modelOptions.hostRead(), modelOptions.hostBudget(), prefill == PrefillMode.CHUNKED,
                        temperature == 0 ? null : new Sampler(temperature, topP, seed), remoteOptions, out);
                return 0;
            }
            if (kvDtype() != null && kvDtype() != io.tierkv.core.DType.F32) {
                System.err.println("tierkv: --kv-dtype " + kvDtype + " applies to --backend cuda; the CPU backend keeps F32 KV blocks");
            }
            run(tok, dir, task, text, ids, policy, prefill, out);
        }
        return 0;
    }

    private void run(TextTokenizer tok, Path dir, ReadingPrompt task, String text, int[] ids, KvPolicy policy, PrefillMode prefill,
                     Path out) throws java.io.IOException {
        try (LlamaWeights w = LlamaCheckpoint.load(dir)) {
            LlamaConfig c = w.config;
            modelOptions.applyThreads(c);
            int chunkRoom = prefill == PrefillMode.CHUNKED ? chunk : 0;
            try (TieredSession session = new TieredSession(w, policy, ids.length, budget, modelOptions.blockSize, maxTokens, chunkRoom,
                    modelOptions.hostBudget(), modelOptions.hostRead());
                 RemoteKvTier remoteTier = remoteOptions.open(dir, session.tiers().config().layout())) {
                RemotePrefill remote = remoteTier == null ? null : session.useRemote(remoteTier);
                System.out.print(chat ? tok.decode(ids) : text);
                System.out.flush();
                TextStream stream = TextStream.of(tok, ids);
                DecodeMetrics meter = session.decoder().metrics();
                meter.enable(true);
                Histogram tpot = new Histogram(3);
                long[] lastToken = {0};
                long[] atPrefillEnd = new long[2]; // blocks promoted, demoted when the first token came out
                GenerationResult g = session.generate(ids, maxTokens, prefill, chunk, new Sampler(temperature, topP, seed),
                        tok.eosId(c.eosTokenId()), t -> {
                            long now = System.nanoTime();
                            if (lastToken[0] == 0) {
                                TierStats at = session.tiers().stats();
                                atPrefillEnd[0] = at.promotionsStarted();
                                atPrefillEnd[1] = at.demotionsStarted();
                            } else {
                                tpot.recordValue(Math.max(1, now - lastToken[0]));
                            }
                            System.out.print(stream.push(t));
                            System.out.flush();
                            lastToken[0] = System.nanoTime();
                        }, null);
                TierStats st = session.tiers().stats();
                if (remoteTier != null) {
                    remoteTier.awaitWrites(remoteTier.config().writeTimeout());
                }
                DecodeMetrics.Snapshot m = meter.snapshot();
                long slot = session.tiers().slotBytes();
                Map<String, Object> device = new LinkedHashMap<>();
                device.put("deviceAttentionShare", Double.isFinite(m.deviceAttentionShare()) ? m.deviceAttentionShare() : null);
                device.put("deviceTopkShare", Double.isFinite(m.deviceTopkShare()) ? m.deviceTopkShare() : null);
                device.put("hostAttentionMs", m.hostNanos() / 1e6);
                device.put("prefillH2dBytes", atPrefillEnd[0] * slot);
                device.put("prefillD2hBytes", atPrefillEnd[1] * slot);
                device.put("decodeH2dBytes", (st.promotionsStarted() - atPrefillEnd[0]) * slot);
                device.put("decodeD2hBytes", (st.demotionsStarted() - atPrefillEnd[1]) * slot);
                device.put("promotions", st.promotionsStarted());
                device.put("frees", st.evictedBlocks() + st.droppedBlocks());
                device.put("stallMs", st.stallNanos() / 1e6);
                device.put("tpotP50Ms", tpot.getTotalCount() == 0 ? null : tpot.getValueAtPercentile(50) / 1e6);
                device.put("tpotP90Ms", tpot.getTotalCount() == 0 ? null : tpot.getValueAtPercentile(90) / 1e6);
                device.put("tpotP99Ms", tpot.getTotalCount() == 0 ? null : tpot.getValueAtPercentile(99) / 1e6);
                System.out.println();
                if (task != null) {
                    suite.printScore(task, tok.decode(g.tokens()));
                }
                System.out.printf(Locale.ROOT, "%n%d prompt tokens, %d generated | prefill %.0f tok/s, decode %s tok/s%n",
                        ids.length, g.tokens().length, g.prefillTokensPerSecond(), g.decodeRate());
                System.out.printf(Locale.ROOT, "policy %s | KV kept %.1f tokens/layer (mean), %d peak | device budget %d blocks"
                        + " (%s), device peak %s, host peak %s | moved d2h %s, h2d %s | dropped %d, evicted %d blocks%n",
                        policy.name(), g.keptMean(), g.keptPeak(), session.deviceBlocks(),
                        Bytes.format(session.deviceBlocks() * session.tiers().slotBytes()),
                        Bytes.format(st.deviceBytesPeak()), Bytes.format(st.hostBytesPeak()), Bytes.format(st.d2hBytes()),
                        Bytes.format(st.h2dBytes()), st.droppedBlocks(), st.evictedBlocks());
                System.out.printf(Locale.ROOT, "time to first token %.1f ms%n", RemoteReport.ttftMillis(g));
                if (remote != null) {
                    System.out.println(RemoteReport.line(remote, ids.length));
                }
                System.out.printf(Locale.ROOT, "device tier: %s of the attention (head-averaged), %s of the top-%d positions | host attention %.1f ms"
                        + " | h2d prefill %s, decode %s | d2h prefill %s, decode %s | %d recalls, %d frees | copy stalls %.1f ms"
                        + " | TPOT p50 %s, p90 %s, p99 %s%n",
                        pct(m.deviceAttentionShare()), pct(m.deviceTopkShare()), DecodeMetrics.TOP_K, m.hostNanos() / 1e6,
                        Bytes.format(atPrefillEnd[0] * slot), Bytes.format((st.promotionsStarted() - atPrefillEnd[0]) * slot),
                        Bytes.format(atPrefillEnd[1] * slot), Bytes.format((st.demotionsStarted() - atPrefillEnd[1]) * slot),
                        st.promotionsStarted(), st.evictedBlocks() + st.droppedBlocks(), st.stallNanos() / 1e6,
                        ms(device.get("tpotP50Ms")), ms(device.get("tpotP90Ms")), ms(device.get("tpotP99Ms")));
                HostRead hostRead = modelOptions.hostRead();
                HostReadStats reads = session.decoder().hostReads();
                if (hostRead.digest()) {
                    System.out.printf(Locale.ROOT, "host read %s | %d of %d host blocks over %d decode steps (%.1f%% of an exact read's"
                            + " bytes) | digests %s at peak | digest recall %s by layer%n", hostRead, reads.blocksRead(), reads.blocksExact(),
                            reads.steps(), 100 * reads.fraction(), Bytes.format(session.decoder().digestBytesPeak()), reads.recallText());
                }
                device.put("hostRead", hostRead.toString());
                device.put("hostReadFraction", reads.fraction());
                device.put("hostBlocksRead", reads.blocksRead());
                device.put("digestRecall", Double.isFinite(reads.recall()) ? reads.recall() : null);
                device.put("digestRecallByLayer", reads.recallText());
                device.put("digestBytesPeak", session.decoder().digestBytesPeak());
                Map<String, Object> json = new LinkedHashMap<>();
                json.put("policy", policy.name());
                json.put("promptTokens", ids.length);
                json.put("generatedTokens", g.tokens().length);
                json.put("prefillTokensPerSecond", g.prefillTokensPerSecond());
                json.put("decodeTokensPerSecond", g.decodeMeasured() ? g.decodeTokensPerSecond() : null);
                json.put("kvKeptMean", g.keptMean());
                json.put("kvKeptPeak", g.keptPeak());
                json.put("ttftMillis", RemoteReport.ttftMillis(g));
                if (remote != null) {
                    RemoteReport.put(json, remote, ids.length);
                }
                json.put("completion", tok.decode(g.tokens()));
                json.put("tokens", g.tokens());
                json.put("device", device);
                json.put("tiers", st);
                Json.write(out.resolve("generate.json"), json);
            }
        }
    }

    private static String pct(double share) {
        return Double.isFinite(share) ? String.format(Locale.ROOT, "%.1f%%", 100 * share) : "n/a";
    }

    private static String ms(Object value) {
        return value == null ? "n/a" : String.format(Locale.ROOT, "%.2f ms", (Double) value);
    }
}

package io.tierkv.bench;

import io.tierkv.core.DType;
import io.tierkv.core.policy.KvPolicy;
import io.tierkv.model.cuda.CudaDecoder;
import io.tierkv.model.generate.DeviceBudget;
import io.tierkv.model.generate.GenerationResult;
import io.tierkv.model.generate.HostRead;
import io.tierkv.model.generate.HostReadStats;
import io.tierkv.model.generate.RemotePrefill;
import io.tierkv.model.generate.Sampler;
import io.tierkv.model.io.TextStream;
import io.tierkv.model.io.TextTokenizer;
import io.tierkv.model.llama.LlamaConfig;
import io.tierkv.model.task.ReadingPrompt;
import io.tierkv.tiering.remote.RemoteKvTier;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * {@code generate --backend cuda}: the completion from {@link CudaDecoder}, everything on the GPU (weights, KV blocks in the
 * model's dtype, every step's math; greedy picks on the device). Policy {@code full} keeps every KV block on the device; any
 * other policy runs tiered ({@link CudaDecoder#loadTiered(Path, int, int, int, String, DType)}: the device tier at
 * {@code --budget} of the prompt, the rest in mapped pinned host memory) with the popularity top-k on the device in the
 * loop (snapkv and h2o read the prompt's attention rows, copied back at prefill). With
 * {@code --host-read digest[:blocks=N,...]} the tiered decode reads only the host blocks whose digest bounds (computed on
 * the device) rank highest, per layer and step, and reports the share of an exact read's host bytes it read; with
 * policy {@code full} (no host tier) digest reads are refused in one line. With {@code --remote} the prompt's leading
 * blocks found in the remote tier are loaded into the tiers instead of computed and the computed ones offered to it
 * ({@link CudaDecoder#loadRemotePrefix}); policy {@code full} then runs tiered at {@code --budget} too, which changes no
 * token (nothing is evicted, host blocks are read where they lie).
 */
final class CudaGenerate {
    private final TextTokenizer tok;
    private final boolean chat;
    private final SuitePromptOptions suite;

    /**
     * Digest reads need a host tier: refused in one line for policy {@code full}, which keeps every block on the device;
     * returns the mode as the CUDA decoder reads it ({@link HostRead#forCuda()}: options its kernels lack are refused).
     */
    static HostRead checkHostRead(boolean tiered, HostRead hostRead) {
        if (hostRead.digest() && !tiered) {
            throw new IllegalArgumentException("--host-read " + hostRead + " with --backend cuda needs a policy that tiers by popularity"
                    + " (e.g. --policy hierarchical): policy full attends every KV block (all on the device, or with --remote tiered at"
                    + " --budget and read exactly)");
        }
        return hostRead.forCuda();
    }

    CudaGenerate(TextTokenizer tok, boolean chat, SuitePromptOptions suite) {
        this.tok = tok;
        this.chat = chat;
        this.suite = suite;
    }

    /**
     * @param hostBudget the host tier's budget as a multiple of the device's (infinity: unbounded), tiered only
     * @param chunked    the prompt streams in with the policy observing every row and stepping per token, tiered only
     */
    void run(Path dir, ReadingPrompt task, String text, int[] ids, String policySpec, KvPolicy policy, double budget, int maxTokens,
             int blockSize, DType kvDtype, HostRead hostRead, double hostBudget, boolean chunked, Sampler sampler,
             RemoteOptions remoteOptions, Path out) throws IOException {
        hostRead = checkHostRead(!policy.name().equals("full"), hostRead); // full: no sparse reads, with or without --remote
        boolean tiered = !policy.name().equals("full") || remoteOptions.enabled(); // the remote tier loads into the tiers
        LlamaConfig config = LlamaConfig.readDir(dir);
        DeviceBudget device = DeviceBudget.of(budget, ids.length, blockSize, config.layers());
        int perLayer = device.perLayer();
        try (CudaDecoder decoder = tiered ? CudaDecoder.loadTiered(dir, ids.length + maxTokens, blockSize, perLayer, policySpec, kvDtype,
                hostRead)
                : CudaDecoder.load(dir, ids.length + maxTokens, blockSize, kvDtype);
             RemoteKvTier remoteTier = remoteOptions.open(dir, CudaDecoder.kvLayout(dir, blockSize, kvDtype))) {
            if (tiered) { // the policy's tokens per layer, the digests' share and the host budget, as on the CPU
                DeviceBudget charged = decoder.withDigests(device, ids.length + maxTokens);
                decoder.reset(charged.context(config.layers(), ids.length), charged.blocks(), charged.hostBlocks(hostBudget));
            }
            RemotePrefill remote = remoteTier == null ? null : decoder.remotePrefill(remoteTier);
            System.out.print(chat ? tok.decode(ids) : text);
            System.out.flush();
            TextStream stream = TextStream.of(tok, ids);
            GenerationResult g = decoder.generate(ids, maxTokens, tok.eosId(decoder.config().eosTokenId()), sampler, t -> {
                System.out.print(stream.push(t));
                System.out.flush();
            }, chunked && tiered, remote);
            if (remoteTier != null) {
                remoteTier.awaitWrites(remoteTier.config().writeTimeout());
            }
            System.out.println();
            String completion = tok.decode(g.tokens());
            if (task != null) {
                suite.printScore(task, completion);
            }
            System.out.printf(Locale.ROOT, "%n%d prompt tokens, %d generated | prefill %.0f tok/s (in chunks), decode %s tok/s%n",
                    ids.length, g.tokens().length, g.prefillTokensPerSecond(), g.decodeRate());
            if (tiered) {
                int[] residency = decoder.residency();
                io.tierkv.tiering.TierStats stats = decoder.tierStats();
                System.out.printf(Locale.ROOT, "backend cuda | weights %s on the device, KV %s (%s, blocks of %d tokens), policy %s,"
                        + " device budget %d blocks per layer (%.0f%% of the prompt) | blocks now (all layers) %d device, %d host | d2h %s, h2d %s,"
                        + " %d promotions%n",
                        Bytes.format(decoder.weightBytes()), Bytes.format(decoder.kvBytes()), decoder.kvDtype(), blockSize, policy.name(),
                        perLayer, 100 * budget, residency[0], residency[1], Bytes.format(stats.d2hBytes()), Bytes.format(stats.h2dBytes()),
                        stats.promotionsStarted());
                HostReadStats reads = decoder.hostReadStats();
                if (hostRead.digest()) {
                    System.out.printf(Locale.ROOT, "host reads %s: %d of %d host blocks over %d decode steps (%.1f%% of an exact read's bytes),"
                            + " digests %s on the device%n", hostRead, reads.blocksRead(), reads.blocksExact(), reads.steps(),
                            100 * reads.fraction(), Bytes.format(decoder.digestBytes()));
                }
            } else {
                System.out.printf(Locale.ROOT, "backend cuda | weights %s on the device, KV %s (%s, blocks of %d tokens), policy full"
                        + " (every token on the device)%n", Bytes.format(decoder.weightBytes()), Bytes.format(decoder.kvBytes()),
                        decoder.kvDtype(), blockSize);
            }
            System.out.printf(Locale.ROOT, "time to first token %.1f ms%n", RemoteReport.ttftMillis(g));
            if (remote != null) {
                System.out.println(RemoteReport.line(remote, ids.length));
            }
            Map<String, Object> json = new LinkedHashMap<>();
            json.put("backend", "cuda");
            json.put("policy", policy.name());
            if (tiered) {
                json.put("budget", budget);
                json.put("deviceBlocksPerLayer", perLayer);
                json.put("deviceBlocks", decoder.residency()[0]);
                json.put("hostBlocks", decoder.residency()[1]);
                json.put("d2hBytes", decoder.tierStats().d2hBytes());
                json.put("h2dBytes", decoder.tierStats().h2dBytes());
                json.put("promotions", decoder.tierStats().promotionsStarted());
                json.put("hostRead", hostRead.toString());
                json.put("hostReadFraction", decoder.hostReadStats().fraction());
                json.put("hostBlocksRead", decoder.hostReadStats().blocksRead());
                json.put("hostBlocksExact", decoder.hostReadStats().blocksExact());
                json.put("digestBytes", decoder.digestBytes());
            }
            json.put("promptTokens", ids.length);
            json.put("ttftMillis", RemoteReport.ttftMillis(g));
            if (remote != null) {
                RemoteReport.put(json, remote, ids.length);
            }
            json.put("generatedTokens", g.tokens().length);
            json.put("prefillTokensPerSecond", g.prefillTokensPerSecond());
            json.put("decodeTokensPerSecond", g.decodeMeasured() ? g.decodeTokensPerSecond() : null);
            json.put("weightBytes", decoder.weightBytes());
            json.put("kvBytes", decoder.kvBytes());
            json.put("kvDtype", decoder.kvDtype().name());
            json.put("completion", completion);
            json.put("tokens", g.tokens());
            Json.write(out.resolve("generate.json"), json);
        }
    }
}

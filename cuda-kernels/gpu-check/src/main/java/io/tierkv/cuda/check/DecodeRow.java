package io.tierkv.cuda.check;

import io.tierkv.core.DType;
import io.tierkv.model.BundledModel;
import io.tierkv.model.cuda.CudaDecoder;
import io.tierkv.model.cuda.HostAttention;
import io.tierkv.model.generate.GenerationResult;
import io.tierkv.model.generate.HostRead;
import io.tierkv.model.llama.LlamaConfig;
import io.tierkv.model.llama.RandomCheckpoint;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Locale;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * The GPU check's decode rows: a model decoded greedily by {@link CudaDecoder}, everything on the device (weights, KV
 * blocks, every step's math and the argmax; 4 bytes per token come back). A synthetic prompt of {@value #PROMPT} tokens
 * is prefilled (in chunks of GEMMs, where the KV store allows), then {@value #NEW_TOKENS} tokens are generated without an
 * end-of-sequence stop, once to warm up and once timed; each model full on the device, then tiered through tiering's
 * CUDA tiers with a quarter of the prompt on the device tier (the rest read by the same kernel from mapped pinned host
 * memory, merged by log-sum-exp), under policy {@code full} (placement alone) and under {@code hierarchical} (the popularity
 * top-k on the device in the loop, windows closing, tokens evicted, blocks promoted and demoted), and {@code hierarchical}
 * with sparse host reads: Quest's {@code digest:blocks=2} (bfloat16 box bounds on the device, the top two host blocks read)
 * and plain {@code digest} (sketch scores on the device, per-head slices, the candidates' keys scored exactly; neither yet
 * run on hardware), and the last of these again with the host tier attended on the CPU ({@link HostAttention#CPU}; for the
 * 100M model with exact reads too), to choose between the two ways of reading it. Two models: the bundled one (3 MiB of F32 weights: its steps
 * are bound by launch latency: 23 launches (44 unfused, one graph launch with graphs) and one host sync per token), and random BF16 weights in
 * {@code bench decode}'s default shape (768 wide, 12 layers, 12/4 heads, SwiGLU 2048, vocabulary 32000: 100M
 * parameters, 220 MB, larger than the L2), whose weights-read GB/s is the decoder's weight streaming rate.
 */
final class DecodeRow {
    static final int PROMPT = 256;
    /** The rows run on the host mirror ({@link #run(Path, boolean)}). */
    private static boolean mirror;
    /** Only the rows whose stage name this finds ({@code --rows}), or null for all. */
    private static java.util.regex.Pattern only;

    /**
     * Runs only the rows whose stage name (as the deadline's message prints it, e.g. {@code decode random 100M, tiered
     * hierarchical, host read digest -Dtierkv.cudaGraphs=true}) {@code regex} finds: one row under a profiler.
     */
    static void only(String regex) {
        only = java.util.regex.Pattern.compile(regex);
    }

    /** Rows run (not left out by {@link #only}) since the check started. */
    static int matched() {
        return matched;
    }

    private static int matched;
    static final int NEW_TOKENS = 256;
    /** bench decode's default shape. */
    static final LlamaConfig SYNTHETIC = new LlamaConfig(768, 2048, 12, 12, 4, 64, 32000, PROMPT + NEW_TOKENS + 16, 1e-5, 10000.0, null,
            true, 1, 2);

    private DecodeRow() {
    }

    /** Runs and prints the rows; false (with the reason printed) when the decoder failed. */
    static boolean run(Path out) throws IOException {
        return run(out, false);
    }

    /**
     * As {@link #run(Path)}, or with {@code hostMirror} the bundled model's rows on the host mirror of the device (no GPU:
     * the check's own code rehearsed, nothing measured; the 100M rows are left out, the mirror being far too slow for them).
     */
    static boolean run(Path out, boolean hostMirror) throws IOException {
        mirror = hostMirror;
        Report text = new Report(out.resolve("decode.txt"));
        boolean ok = row("bundled model", BundledModel.directory(), 0, null, text);
        ok &= unfused(() -> row("bundled model", BundledModel.directory(), 0, null, text));
        ok &= graphs(() -> row("bundled model", BundledModel.directory(), 0, null, text));
        ok &= row("bundled model", BundledModel.directory(), TIERED_PER_LAYER, null, text);
        ok &= row("bundled model", BundledModel.directory(), TIERED_PER_LAYER, HIERARCHICAL, text);
        ok &= row("bundled model", BundledModel.directory(), TIERED_PER_LAYER, HIERARCHICAL, DIGEST, text);
        ok &= row("bundled model", BundledModel.directory(), TIERED_PER_LAYER, HIERARCHICAL, HostRead.DEFAULT, text);
        ok &= graphs(() -> row("bundled model", BundledModel.directory(), TIERED_PER_LAYER, HIERARCHICAL, HostRead.DEFAULT, text));
        ok &= onCpu(() -> row("bundled model", BundledModel.directory(), TIERED_PER_LAYER, HIERARCHICAL, HostRead.DEFAULT, text));
        if (hostMirror) {
            text.line("decode    random 100M: left out on the host mirror");
            return ok;
        }
        Path dir = Files.createTempDirectory("tierkv-decode-");
        try {
            RandomCheckpoint.write(dir, SYNTHETIC, DType.BF16, 1);
            ok &= row("random 100M", dir, 0, null, text);
            ok &= unfused(() -> row("random 100M", dir, 0, null, text));
            ok &= graphs(() -> row("random 100M", dir, 0, null, text));
            ok &= tokenByToken(() -> row("random 100M", dir, 0, null, text));
            ok &= row("random 100M", dir, TIERED_PER_LAYER, null, text);
            ok &= row("random 100M", dir, TIERED_PER_LAYER, HIERARCHICAL, text);
            ok &= row("random 100M", dir, TIERED_PER_LAYER, HIERARCHICAL, DIGEST, text);
            ok &= row("random 100M", dir, TIERED_PER_LAYER, HIERARCHICAL, HostRead.DEFAULT, text);
            ok &= graphs(() -> row("random 100M", dir, TIERED_PER_LAYER, HIERARCHICAL, HostRead.DEFAULT, text));
            ok &= opTimes(() -> row("random 100M", dir, TIERED_PER_LAYER, null, text));
            ok &= opTimes(() -> row("random 100M", dir, TIERED_PER_LAYER, HIERARCHICAL, text));
            ok &= opTimes(() -> row("random 100M", dir, TIERED_PER_LAYER, HIERARCHICAL, HostRead.DEFAULT, text));
            ok &= onCpu(() -> row("random 100M", dir, TIERED_PER_LAYER, HIERARCHICAL, HostRead.EXACT, text));
            ok &= onCpu(() -> row("random 100M", dir, TIERED_PER_LAYER, HIERARCHICAL, HostRead.DEFAULT, text));
        } catch (RuntimeException e) {
            System.out.println("  FAILED writing the random checkpoint: " + e);
            ok = false;
        } finally {
            try (Stream<Path> files = Files.walk(dir)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
        return ok;
    }

    /**
     * A row with the host tier attended on the CPU ({@code -Dtierkv.hostAttention=cpu}) instead of by the kernel over mapped
     * pinned memory: the two rows side by side are what chooses the default.
     */
    private static boolean onCpu(java.util.function.BooleanSupplier row) {
        return withProperty(HostAttention.PROPERTY, "cpu", row);
    }

    /**
     * A row with the step's kernels unfused ({@code -Dtierkv.fusedKernels=false}: RMSNorm, RoPE, the K/V append and SiLU as
     * launches of their own): beside the fused row, what the fusion gains.
     */
    private static boolean unfused(java.util.function.BooleanSupplier row) {
        return withProperty("tierkv.fusedKernels", "false", row);
    }

    /**
     * A row with each step replayed from a captured CUDA graph ({@code -Dtierkv.cudaGraphs=true}: one launch per token
     * instead of about 60): beside the plain fused row, what the launches cost and whether graphs should be the default.
     */
    private static boolean graphs(java.util.function.BooleanSupplier row) {
        return withProperty("tierkv.cudaGraphs", "true", row);
    }

    /**
     * A row with the prompt prefilled token by token through the decode step ({@code -Dtierkv.prefillChunk=1}): beside the
     * plain row, what prefill in chunks of GEMMs gains.
     */
    /**
     * A row with each device operation timed on its own ({@code -Dtierkv.opTimes=true}, {@link io.tierkv.model.cuda.OpTimes}):
     * its tokens/s are not the decoder's (every operation is waited for), its ops line says which kernels the step's device
     * time is made of.
     */
    private static boolean opTimes(java.util.function.BooleanSupplier row) {
        return withProperty("tierkv.opTimes", "true", row);
    }

    private static boolean tokenByToken(java.util.function.BooleanSupplier row) {
        return withProperty("tierkv.prefillChunk", "1", row);
    }

    private static boolean withProperty(String key, String value, java.util.function.BooleanSupplier row) {
        String before = System.getProperty(key);
        System.setProperty(key, value);
        try {
            return row.getAsBoolean();
        } finally {
            if (before == null) {
                System.clearProperty(key);
            } else {
                System.setProperty(key, before);
            }
        }
    }

    /** The {@code -Dtierkv.*} properties a row runs under, as options. */
    private static String overrides() {
        return System.getProperties().stringPropertyNames().stream().filter(k -> k.startsWith("tierkv.") && !k.equals("tierkv.tests"))
                .sorted().map(k -> " -D" + k + "=" + System.getProperty(k)).collect(Collectors.joining());
    }

    /** Device blocks per layer of the tiered rows: a quarter of the prompt's 16 blocks of 16 tokens. */
    static final int TIERED_PER_LAYER = PROMPT / 4 / 16;

    /**
     * The policy of the third row per model: the paper's, its popularity top-k selected on the device every step, its
     * windows (40 generated tokens) closing and the placement moving blocks between the tiers.
     */
    static final String HIERARCHICAL = "hierarchical";

    /** The host read of the fourth row per model: {@code hierarchical} reading the top two blocks by their box bounds (Quest). */
    static final HostRead DIGEST = HostRead.digest(HostRead.DEFAULT_BLOCKS);

    private static boolean row(String name, Path model, int perLayer, String policy, Report text) {
        return row(name, model, perLayer, policy, HostRead.EXACT, text);
    }

    /**
     * One row: full on the device ({@code perLayer} 0), or tiered with {@code perLayer} device blocks per layer under
     * policy {@code full} ({@code policy} null: placement alone) or {@code policy}.
     */
    private static boolean row(String name, Path model, int perLayer, String policy, HostRead read, Report text) {
        String stage = "decode " + name + ", " + (perLayer == 0 ? "full on device" : "tiered " + (policy == null ? "full" : policy)
                + ", host read " + read) + overrides();
        if (only != null && !only.matcher(stage).find()) {
            return true;
        }
        matched++;
        Watchdog.stage(stage);
        String line;
        try (CudaDecoder decoder = perLayer == 0
                ? CudaDecoder.load(model, PROMPT + NEW_TOKENS, 16, null, CudaDecoder.cudaGraphsConfigured(), mirror)
                : CudaDecoder.loadTiered(model, PROMPT + NEW_TOKENS, 16, perLayer, policy == null ? "full" : policy, null, read, mirror)) {
            LlamaConfig c = decoder.config();
            int[] prompt = new int[PROMPT];
            for (int i = 0; i < PROMPT; i++) {
                prompt[i] = 3 + (i * 7) % (c.vocabSize() - 3); // any ids but the special ones; the row times, it does not judge text
            }
            decoder.generate(prompt, NEW_TOKENS, -1, null);
            GenerationResult g = decoder.generate(prompt, NEW_TOKENS, -1, null);
            double tps = g.decodeTokensPerSecond();
            String kernels = (decoder.fusedKernels() ? "" : ", unfused kernels") + (decoder.cudaGraphs() ? ", CUDA graphs" : "")
                    + (decoder.prefillChunkRows() == 1 ? ", prompt token by token" : "")
                    + (CudaDecoder.cudaGraphsConfigured() && decoder.fusedKernels() && !decoder.cudaGraphs()
                    ? ", CUDA graphs refused (see stderr)" : "");
            String where = perLayer == 0 ? "full on device" + kernels : String.format(Locale.ROOT, "tiered %s, %d device blocks/layer (25%% of the prompt)%s",
                    policy == null ? "full" : policy, perLayer, (read.digest() ? ", host read " + read : "")
                    + (decoder.hostAttention() == HostAttention.CPU ? ", host tier attended on the CPU" : "") + kernels);
            line = String.format(Locale.ROOT, "decode    %s%s (%dd x %d layers, %s weights %.1f MiB, KV %s) %s: prefill %.0f tok/s,"
                            + " decode %.0f tok/s (%.3f ms/token, %d tokens), weights read %.1f GB/s",
                    name, mirror ? " on the host mirror" : "", c.hiddenSize(), c.layers(), decoder.kvDtype(),
                    decoder.weightBytes() / 1048576.0, decoder.kvDtype(), where,
                    g.prefillTokensPerSecond(), tps, 1000 / tps, g.tokens().length, decoder.weightBytes() * tps / 1e9);
            if (decoder.cudaGraphs()) {
                line += String.format(Locale.ROOT, "; %d graphs captured, %d steps replayed (both runs)", decoder.graphCaptures(),
                        decoder.graphLaunches());
            }
            line += String.format(Locale.ROOT, "; %d prompt tokens in chunks (both runs)", decoder.chunkedPrefillTokens());
            line += "; host per token: " + decoder.stepPhases() + " (timed run)";
            if (decoder.tierStats() != null) {
                int[] r = decoder.residency();
                line += String.format(Locale.ROOT, "; blocks now %d device / %d host, moved d2h %.1f MiB, h2d %.1f MiB, %d promotions"
                        + " (both runs)", r[0], r[1], decoder.tierStats().d2hBytes() / 1048576.0, decoder.tierStats().h2dBytes() / 1048576.0,
                        decoder.tierStats().promotionsStarted());
                if (read.digest()) {
                    line += String.format(Locale.ROOT, "; host blocks read %d of %d (%.1f%% of exact, both runs), digests %.2f MiB",
                            decoder.hostReadStats().blocksRead(), decoder.hostReadStats().blocksExact(), 100 * decoder.hostReadStats().fraction(),
                            decoder.digestBytes() / 1048576.0);
                }
            }
            String ops = decoder.opTimesReport();
            if (ops != null) {
                line += "\nops       " + ops;
            }
        } catch (RuntimeException | LinkageError e) {
            text.line("decode    " + name + ": FAILED: " + e);
            return false;
        }
        text.line(line);
        return true;
    }
}

package io.tierkv.bench;

import io.tierkv.core.DType;
import io.tierkv.core.KvLayout;
import io.tierkv.core.trace.SyntheticTrace;
import io.tierkv.core.trace.SyntheticTraceConfig;
import io.tierkv.core.trace.TraceHeader;
import io.tierkv.core.trace.TraceReader;
import io.tierkv.core.trace.TraceStep;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code tierkv trace}: record traces of top-k positions from the model, or synthesize them. */
@Command(name = "trace", mixinStandardHelpOptions = true,
        description = "Record top-k attention traces from a model, or generate synthetic ones.",
        subcommands = {TraceCommand.Record.class, TraceCommand.Synth.class, TraceCommand.Info.class})
final class TraceCommand implements Callable<Integer> {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    /** Without a subcommand: usage on stderr, exit code 2. */
    @Override
    public Integer call() {
        return TierKv.missingSubcommand(spec);
    }

    @Command(name = "record", mixinStandardHelpOptions = true, description = "Record a trace while the model generates.")
    static final class Record implements Callable<Integer> {
        @Mixin
        ModelOptions modelOptions;

        @Option(names = "--out", required = true, paramLabel = "FILE", description = "Trace file to write.")
        Path out;

        @Option(names = "--steps", defaultValue = "400", description = "Generated tokens to record (default: ${DEFAULT-VALUE});"
                + " generation continues past the end-of-sequence token.")
        int steps;

        @Option(names = "--k", defaultValue = "8", description = "Top-k positions per layer and token (default: ${DEFAULT-VALUE}).")
        int k;

        @Mixin
        SuitePromptOptions suite;

        @Option(names = "--prompt", description = "Record on this text instead of a suite prompt.")
        String prompt;

        @Option(names = "--policy", defaultValue = "full", description = "Policy in the loop while recording (default: ${DEFAULT-VALUE}).")
        String policy;

        @Mixin
        RemoteOptions remoteOptions;

        @Override
        public Integer call() throws Exception {
            modelOptions.validate(true);
            Options.positive("--steps", steps);
            Options.positive("--k", k);
            PolicyNames.model("--policy", policy);
            if (prompt == null) {
                suite.prompt();
            }
            remoteOptions.validate();
            OutputOption.writableFile("--out", out);
            boolean cuda = modelOptions.useCuda(null);
            TraceRecorder.Result r = TraceRecorder.record(modelOptions, out, steps, k, suite, prompt, policy, remoteOptions, cuda);
            System.out.printf(Locale.ROOT, "trace %s: %d prompt tokens, %d generated, %d layers, k=%d, block %d, %,d bytes%n", out,
                    r.promptTokens(), r.steps(), r.layers(), k, modelOptions.blockSize, Files.size(out));
            if (r.remoteLine() != null) {
                System.out.println(r.remoteLine());
            }
            return 0;
        }
    }

    @Command(name = "synth", mixinStandardHelpOptions = true,
            description = "Generate a seeded synthetic trace: attention sinks, a recent window, a drifting Zipf popular set"
                + " and occasional recall of old tokens (defaults in SyntheticTraceConfig; layout of Llama-2-7B).")
    static final class Synth implements Callable<Integer> {
        @Option(names = "--tokens", required = true, paramLabel = "N", description = "Prompt length in tokens.")
        int tokens;

        @Option(names = "--steps", required = true, paramLabel = "S", description = "Generated tokens.")
        int steps;

        @Option(names = "--seed", defaultValue = "1", description = "Random seed (default: ${DEFAULT-VALUE}).")
        long seed;

        @Option(names = "--out", required = true, paramLabel = "FILE", description = "Trace file to write.")
        Path out;

        @Option(names = "--layers", description = "Layers (default: " + SyntheticTraceConfig.DEFAULT_LAYERS + ").")
        Integer layers;

        @Option(names = "--k", description = "Top-k positions per layer and step (default: " + SyntheticTraceConfig.DEFAULT_TOP_K + ").")
        Integer k;

        @Option(names = "--block-size", description = "Tokens per block (default: " + SyntheticTraceConfig.DEFAULT_BLOCK_SIZE + ").")
        Integer blockSize;

        @Option(names = "--kv-heads", description = "KV heads, for bytes per block (default: " + SyntheticTraceConfig.DEFAULT_KV_HEADS + ").")
        Integer kvHeads;

        @Option(names = "--head-dim", description = "Head dimension (default: " + SyntheticTraceConfig.DEFAULT_HEAD_DIM + ").")
        Integer headDim;

        @Option(names = "--dtype", description = "KV dtype: f32, f16, bf16 (default: f16).")
        String dtype;

        @Option(names = "--popular", description = "Popular spans per layer (default: tokens/64, at least 16).")
        Integer popular;

        @Option(names = "--zipf", description = "Zipf exponent over popular ranks (default: " + SyntheticTraceConfig.DEFAULT_ZIPF + ").")
        Double zipf;

        @Option(names = "--drift", description = "Popular spans replaced per step and layer (default: " + SyntheticTraceConfig.DEFAULT_DRIFT + ").")
        Double drift;

        @Option(names = "--drift-recent", description = "Share of new popular spans taken from the newest tokens (default: "
                + SyntheticTraceConfig.DEFAULT_DRIFT_RECENT + "); the rest land anywhere.")
        Double driftRecent;

        @Option(names = "--revisit", paramLabel = "STEPS", description = "The revisit family: every STEPS steps each layer's"
                + " popular set moves to another passage of the prompt, half the time one it attended before (default: 0, off).")
        int revisit;

        @Option(names = "--passages", description = "Passages of the revisit family (default: " + SyntheticTraceConfig.DEFAULT_PASSAGES + ").")
        Integer passages;

        @Override
        public Integer call() throws Exception {
            SyntheticTraceConfig c = SyntheticTraceConfig.defaults(tokens, steps, seed);
            KvLayout l = c.layout();
            c = c.withLayout(new KvLayout(orElse(layers, l.layers()), orElse(kvHeads, l.kvHeads()), orElse(headDim, l.headDim()),
                    dtype == null ? l.dtype() : DType.parse(dtype), orElse(blockSize, l.blockSize())));
            c = c.withTopK(orElse(k, c.topK()));
            c = c.withPopular(orElse(popular, c.popularSpans()), c.spanLength(), zipf == null ? c.zipfExponent() : zipf,
                    drift == null ? c.drift() : drift, driftRecent == null ? c.driftRecent() : driftRecent);
            if (revisit != 0 || passages != null) {
                c = c.withRevisits(revisit, orElse(passages, c.passages()));
            }
            OutputOption.writableFile("--out", out);
            long start = System.nanoTime();
            TraceHeader h = SyntheticTrace.write(c, out);
            long bytes = Files.size(out);
            long slots = (long) h.steps() * h.layers() * h.topK(); // a step's k positions per layer, fewer while the keys are fewer
            System.out.printf(Locale.ROOT, "wrote %s: %d steps x %d layers, k=%d, prompt %d, %d bytes%s in %.1f s%n",
                    out, h.steps(), h.layers(), h.topK(), h.promptLength(), bytes,
                    slots == 0 ? "" : String.format(Locale.ROOT, " (%.2f bytes per top-k slot)", (double) bytes / slots),
                    (System.nanoTime() - start) / 1e9);
            return 0;
        }

        private static int orElse(Integer v, int fallback) {
            return v != null ? v : fallback;
        }
    }

    @Command(name = "info", mixinStandardHelpOptions = true, description = "Print a trace's header and check every step.")
    static final class Info implements Callable<Integer> {
        @Parameters(paramLabel = "FILE", description = "Trace file.")
        Path file;

        @Override
        public Integer call() throws Exception {
            try (TraceReader r = TraceReader.open(file)) {
                TraceHeader h = r.header();
                System.out.printf(Locale.ROOT, "%s: %s%n  layout %s%n  k=%d, prompt %d tokens, %d steps%n", file, h.source(), h.layout(),
                        h.topK(), h.promptLength(), h.steps());
                TraceStep s = h.newStep();
                long positions = 0;
                while (r.next(s)) {
                    for (int l = 0; l < s.layers(); l++) {
                        positions += s.count(l);
                    }
                }
                System.out.printf(Locale.ROOT, "  %d positions, all %d steps read and checked (%d bytes)%n", positions, r.stepsRead(), r.offset());
            }
            return 0;
        }
    }
}

package io.tierkv.bench;

import io.tierkv.core.DType;
import io.tierkv.core.KvLayout;
import io.tierkv.core.policy.Policies;
import io.tierkv.core.trace.TraceHeader;
import io.tierkv.core.trace.TraceWriter;
import io.tierkv.model.cuda.CudaDecoder;
import io.tierkv.model.generate.PrefillMode;
import io.tierkv.model.generate.RecordingPolicy;
import io.tierkv.model.generate.RemotePrefill;
import io.tierkv.model.generate.Sampler;
import io.tierkv.model.generate.TieredSession;
import io.tierkv.model.io.TextTokenizer;
import io.tierkv.model.io.TokenizerCheck;
import io.tierkv.model.llama.LlamaCheckpoint;
import io.tierkv.model.llama.LlamaConfig;
import io.tierkv.model.llama.LlamaWeights;
import io.tierkv.tiering.remote.RemoteKvTier;
import java.nio.file.Path;

/** Records a trace of the model's top-k attention while it generates (the body of {@code trace record}). */
final class TraceRecorder {
    private TraceRecorder() {
    }

    /** @param remoteLine the remote tier's line ({@link RemoteReport#line}), or null without {@code --remote} */
    record Result(int promptTokens, int steps, int layers, String remoteLine) {
    }

    /** The prompt's tokens and the trace header's description of where they came from. */
    private record Prompt(int[] ids, String source) {
    }

    /** {@code text} through the model's tokenizer, or the suite prompt the options choose. */
    private static Prompt prompt(ModelOptions m, Path dir, SuitePromptOptions suite, String text) {
        if (text != null) {
            try (TextTokenizer tok = TextTokenizer.load(dir)) {
                return new Prompt(tok.encode(text), "model " + dir.getFileName() + ", prompt text");
            }
        }
        return new Prompt(suite.prompt().prompt(), "model " + (m.model == null ? "bundled" : dir.getFileName()) + ", " + suite.describe());
    }

    static Result record(ModelOptions m, Path out, int steps, int k, SuitePromptOptions suite, String text, String policySpec,
                         RemoteOptions remoteOptions, boolean cuda) throws Exception {
        Path dir = m.modelDir();
        LlamaConfig config = LlamaConfig.readDir(dir);
        if (text != null) {
            TokenizerCheck.check(dir, config.vocabSize());
        }
        if (cuda) {
            return recordOnCuda(m, dir, config, out, steps, k, suite, text, policySpec, remoteOptions,
                    CudaDecoder.hostMirrorConfigured());
        }
        try (LlamaWeights w = LlamaCheckpoint.load(dir)) {
            LlamaConfig c = w.config;
            m.applyThreads(c);
            Prompt p = prompt(m, dir, suite, text);
            int[] prompt = p.ids();
            String source = p.source();
            KvLayout layout = new KvLayout(c.layers(), c.kvHeads(), c.headDim(), DType.F32, m.blockSize);
            try (TraceWriter writer = TraceWriter.create(out, new TraceHeader(layout, k, prompt.length, steps, source))) {
                RecordingPolicy policy = new RecordingPolicy(Policies.create(policySpec), writer);
                // The whole prompt fits on the device; no end-of-sequence stop: a trace of `steps` tokens is asked for.
                String remoteLine = null;
                try (TieredSession session = new TieredSession(w, policy, prompt.length, 1.0, m.blockSize, steps + 1, 0);
                     RemoteKvTier tier = remoteOptions.open(dir, session.tiers().config().layout())) {
                    RemotePrefill remote = tier == null ? null : session.useRemote(tier);
                    policy.prefillFrom(session.sequence()::priorCounts);
                    session.decoder().hostRead(m.hostRead());
                    session.generate(prompt, steps + 1, PrefillMode.PAPER, 40, Sampler.greedy(), -1, null, null);
                    if (tier != null) {
                        tier.awaitWrites(tier.config().writeTimeout());
                        remoteLine = RemoteReport.line(remote, prompt.length);
                    }
                }
                return new Result(prompt.length, policy.recorded(), c.layers(), remoteLine);
            }
        }
    }

    /**
     * The same trace from the CUDA decoder ({@code hostMirror}: on the host mirror of the device): the whole sequence on the
     * device tier, the prompt prefilled (its last queries' top-k per block as the prefill record), then each
     * generated token's attention rows, copied back, and their top-k selected as on the CPU. With {@code --remote} the
     * prompt's leading blocks found there are loaded instead of computed and the computed ones offered, as on the CPU.
     */
    static Result recordOnCuda(ModelOptions m, Path dir, LlamaConfig c, Path out, int steps, int k, SuitePromptOptions suite,
                               String text, String policySpec, RemoteOptions remoteOptions, boolean hostMirror) throws Exception {
        Prompt p = prompt(m, dir, suite, text);
        int[] prompt = p.ids();
        String source = p.source() + ", cuda";
        KvLayout layout = new KvLayout(c.layers(), c.kvHeads(), c.headDim(), DType.F32, m.blockSize);
        int maxTokens = prompt.length + steps + 1;
        try (TraceWriter writer = TraceWriter.create(out, new TraceHeader(layout, k, prompt.length, steps, source))) {
            RecordingPolicy policy = new RecordingPolicy(Policies.create(policySpec), writer);
            String remoteLine = null;
            try (CudaDecoder decoder = CudaDecoder.loadTiered(dir, maxTokens, m.blockSize, layout.blocksFor(maxTokens), () -> policy,
                    null, m.hostRead(), hostMirror);
                 RemoteKvTier tier = remoteOptions.open(dir, CudaDecoder.kvLayout(dir, m.blockSize, null))) {
                policy.prefillFrom(() -> decoder.sequence().priorCounts());
                // On the decoder's first sequence (its generate() would open another one with the same policy instance).
                RemotePrefill remote = tier == null ? null : decoder.remotePrefill(tier);
                if (remote != null) {
                    decoder.loadRemotePrefix(remote, prompt, false);
                }
                int next = decoder.prefill(prompt);
                decoder.endPrefill();
                if (remote != null) {
                    remote.offerWritten(decoder.sequence());
                }
                for (int i = 0; i < steps; i++) {
                    next = decoder.advance(next);
                }
                if (tier != null) {
                    tier.awaitWrites(tier.config().writeTimeout());
                    remoteLine = RemoteReport.line(remote, prompt.length);
                }
            }
            return new Result(prompt.length, policy.recorded(), c.layers(), remoteLine);
        }
    }
}

package io.tierkv.model.eval;

import io.tierkv.core.DType;
import io.tierkv.model.cuda.CudaDecoder;
import io.tierkv.model.generate.DecodeMetrics;
import io.tierkv.model.generate.DeviceBudget;
import io.tierkv.model.generate.HostRead;
import io.tierkv.model.generate.HostReadStats;
import io.tierkv.model.generate.PrefillMode;
import io.tierkv.model.generate.RemotePrefill;
import io.tierkv.model.generate.RemoteTally;
import io.tierkv.model.llama.LlamaConfig;
import io.tierkv.model.task.ReadingPrompt;
import io.tierkv.tiering.Sequence;
import io.tierkv.tiering.TierManager;
import io.tierkv.tiering.TierStats;
import io.tierkv.tiering.remote.RemoteKvTier;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * {@link PromptRunner}'s protocol on the CUDA decoder ({@code eval --backend cuda}): per policy one {@link CudaDecoder}
 * with its KV in tiering's tiers (weights uploaded once; loaded again, larger, only when a prompt outgrows it), per prompt
 * a fresh sequence on it (device budget: the same blocks per layer as the CPU's {@code TieredSession} gives that prompt;
 * the policy's context the same tokens per layer; traffic, peaks and host reads counted from the sequence's start).
 * Round 1's prompt is prefilled in chunks, its last rows token by token (the policy acts from the first generated token on, as in the paper's
 * setting; the prompt's last rows' attention, which snapkv and h2o observe and whose top-k seeds the placement, is copied
 * back as the CPU's dense prefill computes it), each answer decoded greedily on the device, each later round's chunk fed
 * token by token with the policy stepping per token as on the CPU. {@link #close} frees the decoders.
 *
 * In chunked mode the prompt goes in token by token with the policy observing every row and stepping per token (the
 * CPU steps per chunk).
 *
 * <p>What the CUDA decoder does not measure is reported as such: the device attention share and its bound (the attention
 * probabilities stay on the device; only each layer's top-k positions come back) are NaN. With {@code --host-read digest}
 * the digests' bytes are taken out of the device budget as the CPU backend takes them ({@link CudaDecoder#withDigests}).
 * With a remote tier, round 1's prompt loads its leading blocks found there instead of computing them
 * ({@link CudaDecoder#loadRemotePrefix}) and offers the blocks it computed, as the CPU runner does.
 */
final class CudaPromptRunner implements PromptRuns {
    private final Path dir;
    private final LlamaConfig c;
    private final EvalSettings s;
    private final DType kvDtype;
    private final HostRead hostRead;
    private final double hostBudget;
    private final boolean hostMirror;
    private final java.util.Map<String, CudaDecoder> decoders = new java.util.HashMap<>();
    /** The shared remote tier round 1's prompt is looked up in and written to; null for none. */
    private final RemoteKvTier remote;
    private final RemoteTally remoteTally;

    /**
     * @param kvDtype    the KV blocks' element type, null for the model's
     * @param hostBudget the host tier's budget as a multiple of the device budget (infinity: unbounded)
     * @param hostMirror run on the host mirror of the device instead of GPU 0 (tests; machines without a GPU)
     * @param remote     the remote tier round 1's prompts load their prefixes from and offer their blocks to, or null
     * @param tally      what the prompts did with the remote tier, added to per prompt
     */
    CudaPromptRunner(Path dir, LlamaConfig config, EvalSettings settings, DType kvDtype, HostRead hostRead, double hostBudget,
                     boolean hostMirror, RemoteKvTier remote, RemoteTally tally) {
        this.dir = dir;
        this.c = config;
        this.s = settings;
        this.kvDtype = kvDtype;
        this.hostRead = hostRead;
        this.hostBudget = hostBudget;
        this.hostMirror = hostMirror;
        this.remote = remote;
        this.remoteTally = tally;
    }

    @Override
    public PromptRunner.Run run(String spec, ReadingPrompt prompt, int rounds, PromptRunner.Observer observer) {
        int p = prompt.prompt().length;
        int n = Math.min(rounds, prompt.rounds());
        DeviceBudget base = DeviceBudget.of(s.budget(), p, s.blockSize(), c.layers());
        int tokens = p + PromptRunner.extraTokens(prompt, n, s.maxTokens());
        CudaDecoder dec = decoder(spec, tokens, base.perLayer());
        DeviceBudget budget = dec.withDigests(base, tokens);
        dec.reset(budget.context(c.layers(), p), budget.blocks(), budget.hostBlocks(hostBudget));
        try (Session session = new Session(dec, budget.blocks())) {
            return PromptRunner.drive(session, s, prompt, n, c.eosTokenId(), observer);
        }
    }

    /** A fresh sequence of the policy's decoder; its traffic and peaks counted from its start. */
    private final class Session implements PromptSession {
        private final CudaDecoder dec;
        private final int deviceBlocks;
        private final TierStats start;

        Session(CudaDecoder dec, int deviceBlocks) {
            this.dec = dec;
            this.deviceBlocks = deviceBlocks;
            dec.tierManager().awaitCopies();
            dec.tierManager().resetPeaks();
            this.start = dec.tierManager().stats();
        }

        @Override
        public Sequence sequence() {
            return dec.sequence();
        }

        @Override
        public TierManager tiers() {
            return dec.tierManager();
        }

        @Override
        public int deviceBlocks() {
            return deviceBlocks;
        }

        @Override
        public int prefill(int[] prompt, PromptRunner.Observer sample) {
            boolean chunked = s.mode() == PrefillMode.CHUNKED;
            RemotePrefill rp = remote == null ? null : dec.remotePrefill(remote);
            int skip = rp == null ? 0 : dec.loadRemotePrefix(rp, prompt, chunked);
            int next;
            if (chunked) {
                dec.beginChunkedPrefill(prompt.length);
                next = feed(Arrays.copyOfRange(prompt, skip, prompt.length), sample);
            } else {
                next = dec.prefill(prompt);
            }
            dec.endPrefill();
            if (rp != null) {
                rp.offerWritten(dec.sequence());
                remoteTally.add(rp, prompt.length);
            }
            return next;
        }

        @Override
        public int feed(int[] tokens, PromptRunner.Observer sample) {
            int next = -1;
            for (int i = 0; i < tokens.length; i++) {
                next = dec.advance(tokens[i]);
                if ((i + 1) % s.chunk() == 0 || i + 1 == tokens.length) {
                    sample.afterStep(dec.sequence());
                }
            }
            return next;
        }

        @Override
        public int advance(int token) {
            return dec.advance(token);
        }

        @Override
        public DecodeMetrics.Snapshot metrics() {
            return DecodeMetrics.Snapshot.EMPTY;
        }

        @Override
        public HostReadStats reads() {
            return dec.hostReadStats();
        }

        @Override
        public long digestBytesPeak() {
            return dec.digestBytes();
        }

        @Override
        public TierStats stats() {
            dec.tierManager().awaitCopies();
            return dec.tierManager().stats().since(start);
        }

        @Override
        public void close() {
            // the sequence stays open until the next reset or the decoder's close: it is the decoder's
        }
    }

    /**
     * The policy's decoder, loaded (again, a quarter larger than asked, up to the model's positions) when it cannot hold
     * {@code tokens} tokens or {@code perLayer} device blocks per layer.
     */
    private CudaDecoder decoder(String spec, int tokens, int perLayer) {
        CudaDecoder d = decoders.get(spec);
        if (d != null && d.maxTokens() >= tokens && d.deviceBlocksPerLayer() >= perLayer) {
            return d;
        }
        int capacity = Math.min(c.maxPositions(), tokens + tokens / 4);
        int blocks = perLayer + perLayer / 4;
        if (d != null) {
            capacity = Math.max(capacity, d.maxTokens());
            blocks = Math.max(blocks, d.deviceBlocksPerLayer());
            decoders.remove(spec);
            d.close();
        }
        d = CudaDecoder.loadTiered(dir, capacity, s.blockSize(), blocks, spec, kvDtype, hostRead, hostMirror);
        decoders.put(spec, d);
        return d;
    }

    /** Frees every decoder (the device and all it holds). */
    @Override
    public void close() {
        RuntimeException first = null;
        for (CudaDecoder d : decoders.values()) {
            try {
                d.close();
            } catch (RuntimeException e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        decoders.clear();
        if (first != null) {
            throw first;
        }
    }
}

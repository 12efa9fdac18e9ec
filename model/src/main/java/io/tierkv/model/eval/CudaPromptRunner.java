package io.tierkv.model.eval;

import io.tierkv.core.DType;
import io.tierkv.core.policy.PolicyContext;
import io.tierkv.core.popularity.PopularityCounters;
import io.tierkv.model.cuda.CudaDecoder;
import io.tierkv.model.generate.DecodeMetrics;
import io.tierkv.model.generate.HostRead;
import io.tierkv.model.generate.PrefillMode;
import io.tierkv.model.llama.LlamaConfig;
import io.tierkv.model.task.AnswerScorer;
import io.tierkv.model.task.ReadingPrompt;
import io.tierkv.model.task.ReadingRound;
import io.tierkv.model.task.Vocabulary;
import io.tierkv.tiering.Sequence;
import io.tierkv.tiering.TierManager;
import io.tierkv.tiering.TierStats;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * {@link PromptRunner}'s protocol on the CUDA decoder ({@code eval --backend cuda}): per policy one {@link CudaDecoder}
 * with its KV in tiering's tiers (weights uploaded once; loaded again, larger, only when a prompt outgrows it), per prompt
 * a fresh sequence on it (device budget: the same blocks per layer as the CPU's {@code TieredSession} gives that prompt;
 * the policy's context the same tokens per layer; traffic, peaks and host reads counted from the sequence's start).
 * Round 1's prompt is prefilled token by token (the policy acts from the first generated token on, as in the paper's
 * setting; the prompt's last rows' attention, which snapkv and h2o observe and whose top-k seeds the placement, is copied
 * back as the CPU's dense prefill computes it), each answer decoded greedily on the device, each later round's chunk fed
 * token by token with the policy stepping per token as on the CPU. {@link #close} frees the decoders.
 *
 * <p>What the CUDA decoder does not measure is reported as such: the device attention share and its bound (the attention
 * probabilities stay on the device; only each layer's top-k positions come back) are NaN. Chunked prefill is refused by
 * {@link #check} before anything runs. With {@code --host-read digest} the digests live on the device beside the budget
 * (not taken out of it, as the CPU backend does).
 */
final class CudaPromptRunner implements PromptRuns {
    private final Path dir;
    private final LlamaConfig c;
    private final EvalSettings s;
    private final DType kvDtype;
    private final HostRead hostRead;
    private final double hostBudget;
    private final boolean hostMirror;
    private final Vocabulary vocab = Vocabulary.get();
    private final java.util.Map<String, CudaDecoder> decoders = new java.util.HashMap<>();

    /**
     * @param kvDtype    the KV blocks' element type, null for the model's
     * @param hostBudget the host tier's budget as a multiple of the device budget (infinity: unbounded)
     * @param hostMirror run on the host mirror of the device instead of GPU 0 (tests; machines without a GPU)
     */
    CudaPromptRunner(Path dir, LlamaConfig config, EvalSettings settings, DType kvDtype, HostRead hostRead, double hostBudget,
                     boolean hostMirror) {
        check(settings);
        this.dir = dir;
        this.c = config;
        this.s = settings;
        this.kvDtype = kvDtype;
        this.hostRead = hostRead;
        this.hostBudget = hostBudget;
        this.hostMirror = hostMirror;
    }

    /** What the CUDA decoder cannot evaluate yet, as one error naming it. */
    static void check(EvalSettings settings) {
        String why = unsupported(settings);
        if (why != null) {
            throw new IllegalArgumentException(why);
        }
    }

    /** Why the CUDA decoder cannot evaluate {@code settings} yet (chunked mode), or null when it can. */
    static String unsupported(EvalSettings settings) {
        if (settings.mode() == PrefillMode.CHUNKED) {
            return "--mode chunked with --backend cuda: the CUDA decoder prefills token by token without observing (paper mode);"
                    + " run chunked mode with --backend cpu";
        }
        return null;
    }

    @Override
    public PromptRunner.Run run(String spec, ReadingPrompt prompt, int rounds, PromptRunner.Observer observer) {
        int p = prompt.prompt().length;
        int n = Math.min(rounds, prompt.rounds());
        int extra = n * (s.maxTokens() + 1);
        for (int r = 1; r < n; r++) {
            extra += prompt.followUps().get(r - 1).chunk().length;
        }
        // The CPU TieredSession's arithmetic: tokens per layer, whole blocks per layer (at least the tail), over all layers.
        int budgetTokens = Math.max(1, (int) Math.floor(s.budget() * p));
        int perLayer = Math.max(1, budgetTokens / s.blockSize());
        int deviceBlocks = perLayer * c.layers();
        int hostBlocks = Double.isInfinite(hostBudget) ? Integer.MAX_VALUE
                : (int) Math.min(Integer.MAX_VALUE, Math.ceil(hostBudget * deviceBlocks));
        CudaDecoder dec = decoder(spec, p + extra, perLayer);
        dec.reset(new PolicyContext(c.layers(), p, budgetTokens, PopularityCounters.java()), deviceBlocks, hostBlocks);
        Sequence seq = dec.sequence();
        TierManager tiers = dec.tierManager();
        tiers.awaitCopies();
        tiers.resetPeaks();
        TierStats start = tiers.stats();
        long slot = tiers.slotBytes();
        List<int[]> residency = new ArrayList<>();
        PromptRunner.Observer sample = q -> {
            residency.add(PromptRunner.residencyOf(q, tiers));
            if (observer != null) {
                observer.afterStep(q);
            }
        };
        long[] copies = new long[4]; // prefill h2d, d2h, decode h2d, d2h (blocks started)
        long[] tpot = new long[n * s.maxTokens()];
        int tpotCount = 0;
        long decodeNanos = 0;
        int keptPeak = 0;
        List<PromptRunner.RoundRun> out = new ArrayList<>();

        long[] mark = PromptRunner.started(tiers);
        int next = dec.prefill(prompt.prompt());
        dec.endPrefill();
        mark = PromptRunner.addSince(copies, 0, tiers, mark);
        int last = -1;
        for (int r = 0; r < n; r++) {
            long[] roundMark = PromptRunner.started(tiers);
            List<String> expected;
            if (r == 0) {
                expected = prompt.answerLines();
            } else {
                ReadingRound follow = prompt.followUps().get(r - 1);
                expected = follow.answerLines();
                int[] piece = new int[1 + follow.chunk().length];
                piece[0] = last;
                System.arraycopy(follow.chunk(), 0, piece, 1, follow.chunk().length);
                for (int i = 0; i < piece.length; i++) {
                    next = dec.advance(piece[i]);
                    if ((i + 1) % s.chunk() == 0 || i + 1 == piece.length) {
                        sample.afterStep(seq);
                    }
                }
                mark = PromptRunner.addSince(copies, 0, tiers, mark);
            }
            int[] tokens = new int[s.maxTokens()];
            int count = 0;
            double fractionSum = 0;
            int steps = 0;
            while (true) {
                tokens[count++] = next;
                last = next;
                if (next == c.eosTokenId() || count == s.maxTokens()) {
                    break;
                }
                long t0 = System.nanoTime();
                next = dec.advance(next);
                long dt = System.nanoTime() - t0;
                tpot[tpotCount++] = dt;
                decodeNanos += dt;
                steps++;
                fractionSum += seq.keptTokens() / (double) seq.length();
                keptPeak = Math.max(keptPeak, seq.keptTokens());
                sample.afterStep(seq);
            }
            mark = PromptRunner.addSince(copies, 2, tiers, mark);
            long[] roundEnd = PromptRunner.started(tiers);
            boolean[] correct = AnswerScorer.score(expected, vocab.decode(tokens, 0, count));
            double kept = steps == 0 ? seq.keptTokens() / (double) seq.length() : fractionSum / steps;
            out.add(new PromptRunner.RoundRun(correct, count, kept, DecodeMetrics.Snapshot.EMPTY,
                    (roundEnd[0] - roundMark[0]) * slot, (roundEnd[1] - roundMark[1]) * slot));
        }
        tiers.awaitCopies();
        TierStats st = tiers.stats().since(start);
        double budgetPeak = st.deviceBytesPeak() / (double) (deviceBlocks * slot);
        return new PromptRunner.Run(out, p, seq.length(), keptPeak / (double) p, st.deviceBytesPeak(), budgetPeak, st,
                copies[0] * slot, copies[1] * slot, copies[2] * slot, copies[3] * slot,
                Arrays.copyOf(tpot, tpotCount), decodeNanos, residency.toArray(new int[0][]),
                dec.hostReadStats(), dec.digestBytes());
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

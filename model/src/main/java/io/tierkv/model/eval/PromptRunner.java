package io.tierkv.model.eval;

import io.tierkv.core.policy.KvPolicy;
import io.tierkv.core.policy.Policies;
import io.tierkv.model.generate.DecodeMetrics;
import io.tierkv.model.generate.HostRead;
import io.tierkv.model.generate.HostReadStats;
import io.tierkv.model.generate.PrefillMode;
import io.tierkv.model.generate.RemotePrefill;
import io.tierkv.model.generate.RemoteTally;
import io.tierkv.model.generate.Sampler;
import io.tierkv.model.generate.TieredDecoder;
import io.tierkv.model.generate.TieredSession;
import io.tierkv.model.llama.LlamaWeights;
import io.tierkv.model.task.AnswerScorer;
import io.tierkv.model.task.ReadingPrompt;
import io.tierkv.model.task.ReadingRound;
import io.tierkv.model.task.Vocabulary;
import io.tierkv.tiering.Sequence;
import io.tierkv.tiering.TierManager;
import io.tierkv.tiering.TierStats;
import io.tierkv.tiering.remote.RemoteKvTier;
import io.tierkv.tiering.remote.RemotePrefix;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * One prompt, all its rounds, through one policy in a fresh {@link TieredSession}: round 1's prompt is
 * prefilled (densely in paper mode, in chunks in chunked mode) and answered greedily until {@code <eos>};
 * each later round's chunk is then fed after the previous answer (the answer's last token first, in pieces
 * of the chunk size, the policy stepping once per token in both modes) and answered the same way.
 *
 * <p>The device budget is a fraction of round 1's prompt (the passage and the first questions); the host
 * tier holds the whole session. With one round this is exactly the paper's experiment.
 */
final class PromptRunner implements PromptRuns {
    private final LlamaWeights weights;
    private final EvalSettings s;
    /** How decode steps read the host tier. */
    private HostRead hostRead = HostRead.EXACT;

    void hostRead(HostRead mode) {
        this.hostRead = mode;
    }

    /** The host tier's budget as a multiple of the device budget; infinity (the default) for unbounded. */
    private double hostBudget = Double.POSITIVE_INFINITY;

    void hostBudget(double multiple) {
        this.hostBudget = multiple;
    }

    /** The shared remote tier round 1's prompt is looked up in and written to; null for none. */
    private RemoteKvTier remote;
    private final RemoteTally remoteTally = new RemoteTally();

    void remote(RemoteKvTier tier) {
        this.remote = tier;
    }

    RemoteTally remoteTally() {
        return remoteTally;
    }

    PromptRunner(LlamaWeights weights, EvalSettings settings) {
        this.weights = weights;
        this.s = settings;
    }

    /** Observes the sequence after each step: prompt chunk or generated token. */
    interface Observer {
        void afterStep(Sequence seq);
    }

    /**
     * One round's outcome.
     *
     * @param correct      per question
     * @param tokens       tokens generated (the {@code <eos>} included)
     * @param keptFraction live tokens per layer over the sequence length, mean over the round's decode steps
     * @param metrics      what the device tier served during the round (its chunk and its answer)
     * @param h2dBytes     bytes sent host to device during the round (copies started)
     * @param d2hBytes     bytes sent device to host during the round (copies started)
     */
    record RoundRun(boolean[] correct, int tokens, double keptFraction, DecodeMetrics.Snapshot metrics, long h2dBytes, long d2hBytes,
                    HostReadStats reads) {
    }

    /**
     * The whole run.
     *
     * @param rounds          per round
     * @param promptTokens    round 1's prompt
     * @param sessionTokens   tokens in the cache at the end
     * @param keptPeakFraction most live tokens per layer over round 1's prompt
     * @param deviceBytesPeak  most device bytes at once
     * @param budgetPeak       device peak over the device arena (the budget)
     * @param stats            the tier manager's totals at the end
     * @param prefillH2d       bytes sent host to device while prompt tokens went in (round 1's prompt, later chunks)
     * @param prefillD2h       bytes sent device to host while prompt tokens went in
     * @param decodeH2d        bytes sent host to device while generating
     * @param decodeD2h        bytes sent device to host while generating
     * @param tpotNanos        the time of each decode step (a generated token fed back), in order
     * @param decodeNanos      time in decode steps
     * @param residency        per step: device tokens, host tokens, freed tokens (per layer), sequence length
     */
    record Run(List<RoundRun> rounds, int promptTokens, int sessionTokens, double keptPeakFraction, long deviceBytesPeak,
               double budgetPeak, TierStats stats, long prefillH2d, long prefillD2h, long decodeH2d, long decodeD2h,
               long[] tpotNanos, long decodeNanos, int[][] residency, HostReadStats reads, long digestBytesPeak) {

        /** Every question's outcome, round after round. */
        boolean[] correct() {
            int n = 0;
            for (RoundRun r : rounds) {
                n += r.correct().length;
            }
            boolean[] out = new boolean[n];
            int at = 0;
            for (RoundRun r : rounds) {
                System.arraycopy(r.correct(), 0, out, at, r.correct().length);
                at += r.correct().length;
            }
            return out;
        }

        int generated() {
            return rounds.stream().mapToInt(RoundRun::tokens).sum();
        }

        DecodeMetrics.Snapshot metrics() {
            DecodeMetrics.Snapshot m = DecodeMetrics.Snapshot.EMPTY;
            for (RoundRun r : rounds) {
                m = m.plus(r.metrics());
            }
            return m;
        }

        double keptFraction() {
            return rounds.stream().mapToDouble(RoundRun::keptFraction).average().orElse(0);
        }
    }

    /** Runs {@code rounds} rounds of {@code prompt} (at most its own) under the policy {@code spec}. */
    @Override
    public Run run(String spec, ReadingPrompt prompt, int rounds, Observer observer) {
        int p = prompt.prompt().length;
        int n = Math.min(rounds, prompt.rounds());
        boolean chunked = s.mode() == PrefillMode.CHUNKED;
        KvPolicy policy = Policies.create(spec);
        // A later round's chunk goes through the cache in pieces in both modes: the arena must hold one.
        int sessionChunk = chunked || n > 1 ? s.chunk() : 0;
        try (CpuSession session = new CpuSession(new TieredSession(weights, policy, p, s.budget(), s.blockSize(), extraTokens(prompt, n, s.maxTokens()),
                sessionChunk, hostBudget, hostRead), policy, chunked)) {
            return drive(session, s, prompt, n, weights.config.eosTokenId(), observer);
        }
    }

    /** Tokens {@code n} rounds add after round 1's prompt: each round's answer (at most {@code maxTokens}, and one more), each later round's chunk. */
    static int extraTokens(ReadingPrompt prompt, int n, int maxTokens) {
        int extra = n * (maxTokens + 1);
        for (int r = 1; r < n; r++) {
            extra += prompt.followUps().get(r - 1).chunk().length;
        }
        return extra;
    }

    /**
     * The round loop of both backends: round 1's prompt prefilled, then per round its chunk fed (rounds after the first,
     * the previous answer's last token first) and its answer decoded greedily until {@code eosId} or the token limit,
     * scored per question; copies, TPOT, KV kept, residency and peaks measured on the way.
     */
    static Run drive(PromptSession session, EvalSettings s, ReadingPrompt prompt, int n, int eosId, Observer observer) {
        Vocabulary vocab = Vocabulary.get();
        int p = prompt.prompt().length;
        Sequence seq = session.sequence();
        TierManager tiers = session.tiers();
        long slot = tiers.slotBytes();
        List<int[]> residency = new ArrayList<>();
        Observer sample = q -> {
            residency.add(residencyOf(q, tiers));
            if (observer != null) {
                observer.afterStep(q);
            }
        };
        long[] copies = new long[4]; // prefill h2d, d2h, decode h2d, d2h (blocks started)
        long[] tpot = new long[n * s.maxTokens()];
        int tpotCount = 0;
        long decodeNanos = 0;
        int keptPeak = 0;
        long devicePeak = 0;
        List<RoundRun> out = new ArrayList<>();

        long[] mark = started(tiers);
        int next = session.prefill(prompt.prompt(), sample);
        mark = addSince(copies, 0, tiers, mark);
        int last = -1;
        for (int r = 0; r < n; r++) {
            DecodeMetrics.Snapshot m0 = session.metrics();
            long[] roundMark = started(tiers);
            HostReadStats reads0 = session.reads() == null ? null : session.reads().copy();
            List<String> expected;
            if (r == 0) {
                expected = prompt.answerLines();
            } else {
                ReadingRound follow = prompt.followUps().get(r - 1);
                expected = follow.answerLines();
                int[] piece = new int[1 + follow.chunk().length];
                piece[0] = last;
                System.arraycopy(follow.chunk(), 0, piece, 1, follow.chunk().length);
                next = session.feed(piece, sample);
                mark = addSince(copies, 0, tiers, mark);
            }
            int[] tokens = new int[s.maxTokens()];
            int count = 0;
            double fractionSum = 0;
            int steps = 0;
            while (true) {
                tokens[count++] = next;
                last = next;
                if (next == eosId || count == s.maxTokens()) {
                    break;
                }
                long t0 = System.nanoTime();
                next = session.advance(next);
                long dt = System.nanoTime() - t0;
                tpot[tpotCount++] = dt;
                decodeNanos += dt;
                steps++;
                fractionSum += seq.keptTokens() / (double) seq.length();
                keptPeak = Math.max(keptPeak, seq.keptTokens());
                devicePeak = Math.max(devicePeak, seq.deviceBytes());
                sample.afterStep(seq);
            }
            mark = addSince(copies, 2, tiers, mark);
            long[] roundEnd = started(tiers);
            boolean[] correct = AnswerScorer.score(expected, vocab.decode(tokens, 0, count));
            double kept = steps == 0 ? seq.keptTokens() / (double) seq.length() : fractionSum / steps;
            out.add(new RoundRun(correct, count, kept, session.metrics().minus(m0),
                    (roundEnd[0] - roundMark[0]) * slot, (roundEnd[1] - roundMark[1]) * slot,
                    reads0 == null ? null : session.reads().since(reads0)));
        }
        TierStats st = session.stats();
        double budgetPeak = st.deviceBytesPeak() / (double) (session.deviceBlocks() * slot);
        return new Run(out, p, seq.length(), keptPeak / (double) p, Math.max(devicePeak, st.deviceBytesPeak()), budgetPeak, st,
                copies[0] * slot, copies[1] * slot, copies[2] * slot, copies[3] * slot,
                Arrays.copyOf(tpot, tpotCount), decodeNanos, residency.toArray(new int[0][]), session.reads(), session.digestBytesPeak());
    }

    /** A fresh {@link TieredSession} per run: libtorch computes, the attention's probabilities are measured. */
    private final class CpuSession implements PromptSession {
        private final TieredSession session;
        private final KvPolicy policy;
        private final boolean chunked;
        private final TieredDecoder dec;
        private final Sampler greedy = Sampler.greedy();

        CpuSession(TieredSession session, KvPolicy policy, boolean chunked) {
            this.session = session;
            this.policy = policy;
            this.chunked = chunked;
            this.dec = session.decoder();
            dec.metrics().enable(true);
            dec.metrics().reset();
        }

        @Override
        public Sequence sequence() {
            return session.sequence();
        }

        @Override
        public TierManager tiers() {
            return session.tiers();
        }

        @Override
        public int deviceBlocks() {
            return session.deviceBlocks();
        }

        @Override
        public int prefill(int[] prompt, Observer sample) {
            return greedy.next(PromptRunner.this.prefill(session, policy, prompt, chunked, sample));
        }

        @Override
        public int feed(int[] tokens, Observer sample) {
            return greedy.next(PromptRunner.this.feed(dec, session.sequence(), policy, tokens, 0, sample, null));
        }

        @Override
        public int advance(int token) {
            return greedy.next(dec.forward(session.sequence(), policy, new int[] {token}, true));
        }

        @Override
        public DecodeMetrics.Snapshot metrics() {
            return dec.metrics().snapshot();
        }

        @Override
        public HostReadStats reads() {
            return dec.hostReads();
        }

        @Override
        public long digestBytesPeak() {
            return dec.digestBytesPeak();
        }

        @Override
        public TierStats stats() {
            session.tiers().awaitCopies();
            return session.tiers().stats();
        }

        @Override
        public void close() {
            dec.metrics().enable(false);
            session.close();
        }
    }

    /**
     * Round 1's prompt into the empty sequence: densely (paper) or in chunks; with a remote tier, its leading blocks
     * found there are loaded instead of computed (as {@code generate --remote} does) and the computed ones offered.
     */
    private float[] prefill(TieredSession session, KvPolicy policy, int[] prompt, boolean chunked, Observer sample) {
        TieredDecoder dec = session.decoder();
        Sequence seq = session.sequence();
        RemotePrefill rp = remote == null ? null : session.useRemote(remote);
        int computed = rp == null ? 0 : RemotePrefill.rowsToCompute(policy, prompt.length, !chunked,
                RemotePrefill.placementNeutral(seq, dec.hostRead()));
        float[] logits;
        if (chunked) {
            int skip = rp == null ? 0 : rp.load(seq, prompt, computed);
            logits = feed(dec, seq, policy, prompt, skip, sample, rp);
            seq.endPrefill();
        } else {
            RemotePrefix hit = rp == null ? null : rp.lookup(seq, prompt, computed);
            if (rp != null) {
                rp.computesDensely(prompt.length); // the dense prefill attends every prompt token before the tiers place any
            }
            logits = hit == null || hit.blocks() == 0 ? dec.prefillDense(seq, policy, prompt) : dec.prefillDense(seq, policy, prompt, hit);
        }
        if (rp != null) {
            rp.offerWritten(seq);
            remoteTally.add(rp, prompt.length);
        }
        return logits;
    }

    /**
     * Feeds {@code tokens} from {@code from} on in pieces of the chunk size, the policy stepping per token; returns the last
     * logits. A one-row piece with digest reads reads the host tier sparsely, which {@code rp} (null for none) is told.
     */
    private float[] feed(TieredDecoder dec, Sequence seq, KvPolicy policy, int[] tokens, int from, Observer sample, RemotePrefill rp) {
        float[] logits = null;
        for (int start = from; start < tokens.length; start += s.chunk()) {
            int[] piece = Arrays.copyOfRange(tokens, start, Math.min(tokens.length, start + s.chunk()));
            if (rp != null && piece.length == 1 && dec.hostRead().digest()) {
                rp.readsSparselyFrom(start);
            }
            logits = dec.forward(seq, policy, piece, true);
            sample.afterStep(seq);
        }
        return logits;
    }

    /** Blocks promoted and demoted so far (copies started). */
    static long[] started(TierManager tiers) {
        TierStats st = tiers.stats();
        return new long[] {st.promotionsStarted(), st.demotionsStarted()};
    }

    /** Adds the copies started since {@code mark} to {@code copies[at]} (h2d) and {@code copies[at + 1]} (d2h). */
    static long[] addSince(long[] copies, int at, TierManager tiers, long[] mark) {
        long[] now = started(tiers);
        copies[at] += now[0] - mark[0];
        copies[at + 1] += now[1] - mark[1];
        return now;
    }

    /** Device tokens, host tokens and freed tokens per layer, and the sequence length. */
    static int[] residencyOf(Sequence seq, TierManager tiers) {
        int layers = tiers.config().layout().layers();
        int bs = tiers.config().layout().blockSize();
        int length = seq.length();
        int kept = seq.keptTokens();
        int device = (int) Math.min(length, Math.round(seq.deviceBlocks() * (double) bs / layers));
        int host = (int) Math.min(length - device, Math.round(seq.hostBlocks() * (double) bs / layers));
        return new int[] {device, host, Math.max(0, length - kept), length};
    }
}

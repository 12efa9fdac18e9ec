package io.tierkv.model.generate;

import io.tierkv.core.policy.KvPolicy;
import io.tierkv.tiering.Sequence;
import io.tierkv.tiering.remote.RemotePrefix;
import java.util.Arrays;
import java.util.function.IntConsumer;

/**
 * The generation loop: prefill (dense or chunked), then one token at a time until the end-of-sequence
 * token or the limit, each generated token fed back through the tiered cache with the policy stepping.
 */
public final class Generator {
    private final TieredDecoder decoder;

    public Generator(TieredDecoder decoder) {
        this.decoder = decoder;
    }

    /**
     * Generates into {@code seq}, which must be empty and opened with {@code policy}.
     *
     * @param chunk    prompt chunk size in chunked mode (the policy window is the natural choice)
     * @param onToken  called with each generated token as soon as it is sampled (streaming)
     * @param observer called after each generation step with the sequence, for statistics and plots (may be null)
     */
    public GenerationResult generate(Sequence seq, KvPolicy policy, int[] prompt, int maxTokens, PrefillMode mode, int chunk,
                                     Sampler sampler, int eosId, IntConsumer onToken, StepObserver observer) {
        return generate(seq, policy, prompt, maxTokens, mode, chunk, sampler, eosId, onToken, observer, null);
    }

    /**
     * Generates as above; with a {@code remote} prefill, the prompt's leading blocks that the remote tier holds
     * are loaded instead of computed (prefill computes the rest, attending to them), and the prompt blocks
     * prefill computed are offered to it afterwards.
     */
    public GenerationResult generate(Sequence seq, KvPolicy policy, int[] prompt, int maxTokens, PrefillMode mode, int chunk,
                                     Sampler sampler, int eosId, IntConsumer onToken, StepObserver observer,
                                     RemotePrefill remote) {
        if (prompt.length == 0) {
            throw new IllegalArgumentException("the prompt is empty");
        }
        if (maxTokens <= 0) {
            throw new IllegalArgumentException("max tokens must be > 0, was " + maxTokens);
        }
        int window = decoder.config().slidingWindow();
        if (window > 0 && prompt.length + maxTokens > window) {
            // Attention here sees every kept token; past the window the model was trained to see fewer.
            throw new IllegalArgumentException("the model attends over a sliding window of " + window + " tokens, and "
                    + prompt.length + " prompt tokens + " + maxTokens + " new ones can exceed it; windowed attention is not"
                    + " implemented: keep prompt + max tokens within " + window);
        }
        long t0 = System.nanoTime();
        float[] logits;
        boolean paper = mode == PrefillMode.PAPER;
        int computed = remote == null ? 0 : RemotePrefill.rowsToCompute(policy, prompt.length, paper,
                RemotePrefill.placementNeutral(seq, decoder.hostRead()));
        if (paper) {
            RemotePrefix hit = remote == null ? null : remote.lookup(seq, prompt, computed);
            if (remote != null) {
                remote.computesDensely(prompt.length); // the dense prefill attends every prompt token before the tiers place any
            }
            logits = hit == null || hit.blocks() == 0 ? decoder.prefillDense(seq, policy, prompt)
                    : decoder.prefillDense(seq, policy, prompt, hit);
        } else {
            int skip = remote == null ? 0 : remote.load(seq, prompt, computed);
            logits = null;
            for (int start = skip; start < prompt.length; start += chunk) {
                int[] part = Arrays.copyOfRange(prompt, start, Math.min(prompt.length, start + chunk));
                if (remote != null && part.length == 1 && decoder.hostRead().digest()) {
                    remote.readsSparselyFrom(start); // a one-row forward reads the host tier as a decode step does
                }
                logits = decoder.forward(seq, policy, part, true);
                if (observer != null) {
                    observer.afterStep(seq, -1);
                }
            }
            seq.endPrefill();
        }
        if (remote != null) {
            remote.offerWritten(seq);
        }
        long t1 = System.nanoTime();
        int[] out = new int[maxTokens];
        int n = 0;
        long keptSum = 0;
        double fractionSum = 0;
        int keptPeak = seq.keptTokens();
        long devicePeak = seq.deviceBytes();
        long hostPeak = seq.hostBytes();
        long decodeStart = 0;
        while (true) {
            int next = sampler.next(logits);
            out[n++] = next;
            if (onToken != null) {
                onToken.accept(next);
            }
            if (n == 1) {
                decodeStart = System.nanoTime();
            }
            if (next == eosId || n == maxTokens) {
                break;
            }
            logits = decoder.forward(seq, policy, new int[] {next}, true);
            keptSum += seq.keptTokens();
            fractionSum += seq.keptTokens() / (double) seq.length();
            keptPeak = Math.max(keptPeak, seq.keptTokens());
            devicePeak = Math.max(devicePeak, seq.deviceBytes());
            hostPeak = Math.max(hostPeak, seq.hostBytes());
            if (observer != null) {
                observer.afterStep(seq, n - 1);
            }
        }
        long t2 = System.nanoTime();
        int steps = n - 1;
        double keptMean = steps == 0 ? seq.keptTokens() : keptSum / (double) steps;
        double keptFraction = steps == 0 ? seq.keptTokens() / (double) seq.length() : fractionSum / steps;
        return new GenerationResult(Arrays.copyOf(out, n), prompt.length, t1 - t0, n > 1 ? t2 - decodeStart : 0,
                keptMean, keptFraction, keptPeak, devicePeak, hostPeak);
    }

    /** Sees the sequence after each step (chunk or generated token). */
    @FunctionalInterface
    public interface StepObserver {
        /** {@code generated} is the index of the token just fed, or -1 during a chunked prefill. */
        void afterStep(Sequence seq, int generated);
    }
}

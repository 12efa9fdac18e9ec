package io.tierkv.model.eval;

import io.tierkv.model.generate.DecodeMetrics;
import io.tierkv.model.generate.HostReadStats;
import io.tierkv.tiering.Sequence;
import io.tierkv.tiering.TierManager;
import io.tierkv.tiering.TierStats;

/**
 * One prompt's sequence on one backend, as {@link PromptRunner#drive}'s round loop drives it: libtorch's
 * {@code TieredSession} on the CPU, or a sequence of the CUDA decoder ({@link CudaPromptRunner}). Every method but
 * {@link #close} returns what that backend computed; each token-returning method returns the greedy next token.
 */
interface PromptSession extends AutoCloseable {
    Sequence sequence();

    TierManager tiers();

    /** Device blocks of the budget: the denominator of the device peak. */
    int deviceBlocks();

    /** Round 1's prompt into the empty sequence ({@code sample} after each piece the backend feeds). */
    int prefill(int[] prompt, PromptRunner.Observer sample);

    /** Prompt tokens after an answer (a later round's chunk), the policy stepping per token, {@code sample} after each piece. */
    int feed(int[] tokens, PromptRunner.Observer sample);

    /** One generated token through the model and the policy's step. */
    int advance(int token);

    /** What the device tier served so far ({@link DecodeMetrics.Snapshot#EMPTY} where the backend does not measure it). */
    DecodeMetrics.Snapshot metrics();

    /** Host blocks read against an exact read's, since the sequence started. */
    HostReadStats reads();

    /** Device bytes of the block digests at their peak (0 in exact mode). */
    long digestBytesPeak();

    /** The tiers' traffic and peaks since the sequence started, once its copies completed. */
    TierStats stats();

    @Override
    void close();
}

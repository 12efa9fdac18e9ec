package io.tierkv.core.policy;

import io.tierkv.core.Transitions;
import io.tierkv.core.placement.TierMode;

/**
 * A KV-cache policy: it is told when tokens arrive and what each query attended to, and it answers
 * with level transitions per layer and token. Levels are the byte codes of
 * {@link io.tierkv.core.Level}; the baselines use only NORMAL (kept) and EVICT.
 *
 * <p>Protocol, for one sequence: {@link #start}, then for the prompt {@link #append} (once, or once per
 * chunk) with {@link #observe} for the query rows the policy asked for ({@link #prefillRows}), then
 * {@link #endPrefill}; then per generated token: {@link #append}(1), {@link #observe} once per layer,
 * {@link #step}. In chunked mode the driver also calls {@link #observe} for every prompt row and
 * {@link #step} once per prompt token, so that windows close while the prompt streams in.
 *
 * <p>In {@link TierMode#DROP} EVICT is final: an evicted token's KV is gone, so no policy brings it back.
 * In {@link TierMode#TIER} an evicted token is only cold: its KV waits on the host, it is still attended,
 * and a policy that counts attention may bring it back to LOW.
 * Implementations are single-threaded and allocate nothing per step on their hot paths.
 */
public interface KvPolicy {

    /** The registry name, with options if any (as in {@code streaming:sinks=4,window=252}). */
    String name();

    /** Starts a sequence. Must be called once before anything else. */
    void start(PolicyContext context);

    /**
     * How many of the last prompt rows the policy wants to observe during a full prefill: 0 for none,
     * {@link Integer#MAX_VALUE} for all.
     */
    default int prefillRows(int promptLength) {
        return 0;
    }

    /**
     * Whether the policy uses {@link #observe} during decoding; when false the caller may skip computing
     * attention probabilities altogether (full and streaming decide by position alone).
     */
    default boolean observesAttention() {
        return true;
    }

    /**
     * The k of a policy whose {@link #observe} only counts each query's top-k keys, selected by the
     * {@link PolicyContext#counter() context's counter}; 0 (the default) for a policy that reads more of the row.
     * A caller that selects the same top-k anyway (the tier manager's requests) selects once and hands the
     * result to {@link #observeSelected}, which such a policy treats exactly like {@code observe}.
     */
    default int observedTopK() {
        return 0;
    }

    /** {@code count} tokens arrive at positions {@code [length(), length() + count)} in every layer. */
    void append(int count);

    /**
     * One query's attention in one layer: {@code heads} rows of probabilities, row {@code h} at
     * {@code probs[offset + h * stride ...]}, of which the first {@code keys} are the keys
     * {@code 0 .. keys-1}. Evicted keys carry probability 0.
     */
    void observe(int layer, int queryPosition, float[] probs, int offset, int heads, int stride, int keys);

    /**
     * One query's attention in one layer given as its already selected top-k keys, ascending and
     * distinct, as a recorded trace holds them ({@code io.tierkv.core.trace}). Policies that count
     * top-k membership treat it like {@link #observe} after their own selection; H2O adds one unit of
     * attention per selected key. The default ignores it, which is right for policies that do not read
     * attention during decoding (full, streaming, snapkv).
     *
     * @param positions keys {@code positions[0 .. n-1]}, each in {@code [0, length())}, strictly ascending
     */
    default void observeSelected(int layer, int[] positions, int n) {
    }

    /** The prompt is complete; the policy may evict down to its budget. */
    void endPrefill(Transitions out);

    /** One query step completed (a generated token; in chunked mode also a prompt token). */
    void step(Transitions out);

    /**
     * What the tier manager does with blocks this policy evicts: keep them on the host's cold end
     * ({@link TierMode#TIER}, their tokens stay attended) or free them ({@link TierMode#DROP}, masked).
     */
    default TierMode tierMode() {
        return TierMode.DROP;
    }

    /** The level code of one token in one layer. */
    byte level(int layer, int token);

    /** Tokens appended so far. */
    int length();

    /** Tokens of {@code layer} not evicted. */
    int liveTokens(int layer);

    /**
     * How popular a token is among tokens of the same level, for choosing which device blocks move to
     * the host under a budget: bigger is more popular. Defaults to 0 (ties broken by the caller).
     */
    default int heat(int layer, int token) {
        return 0;
    }

    /** Re-checks the policy's invariants; throws {@link IllegalStateException} if one is broken. */
    void checkInvariants();
}

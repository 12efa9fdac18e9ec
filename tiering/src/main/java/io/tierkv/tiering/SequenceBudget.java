package io.tierkv.tiering;

import io.tierkv.core.KvLayout;
import io.tierkv.core.policy.PolicyContext;

/**
 * A sequence's budgets in one unit, <em>tokens per layer</em>, for {@link TierManager#open(io.tierkv.core.policy.KvPolicy,
 * int, SequenceBudget)}: what the policy keeps ({@link PolicyContext#budgetTokens()}) and what the tiers reserve in
 * blocks over all layers are both derived from it, so an embedder never converts between the two.
 *
 * <p>The device reserves {@code layers * (ceil(deviceTokens / blockSize) + 1)} blocks: room for the kept tokens
 * plus the tail block being written in each layer. The host keeps {@code layers * ceil(hostTokens / blockSize)}
 * blocks, or all of them for {@link #UNBOUNDED}.
 *
 * @param deviceTokens tokens per layer the policy keeps and the device tier holds ({@code > 0})
 * @param hostTokens   tokens per layer the host tier may hold beyond them ({@code >= 0}, or {@link #UNBOUNDED})
 */
public record SequenceBudget(int deviceTokens, int hostTokens) {
    /** No bound on the host tier (it still holds at most its arena's capacity). */
    public static final int UNBOUNDED = Integer.MAX_VALUE;

    public SequenceBudget {
        if (deviceTokens <= 0 || deviceTokens == UNBOUNDED) {
            throw new IllegalArgumentException("deviceTokens must be > 0 tokens per layer and finite, was " + deviceTokens);
        }
        if (hostTokens < 0) {
            throw new IllegalArgumentException("hostTokens must be >= 0 tokens per layer, was " + hostTokens);
        }
    }

    /** {@code deviceTokens} per layer on the device, an unbounded host tier. */
    public static SequenceBudget tokens(int deviceTokens) {
        return new SequenceBudget(deviceTokens, UNBOUNDED);
    }

    /** The same device budget with {@code hostTokens} per layer on the host. */
    public SequenceBudget withHostTokens(int tokens) {
        return new SequenceBudget(deviceTokens, tokens);
    }

    /** Device blocks over all layers: the kept tokens' blocks plus one tail block per layer. */
    public int deviceBlocks(KvLayout layout) {
        long perLayer = blocks(deviceTokens, layout.blockSize()) + 1L;
        return Math.toIntExact(Math.min(Integer.MAX_VALUE, perLayer * layout.layers()));
    }

    /** Host blocks over all layers, or {@link Integer#MAX_VALUE} when unbounded. */
    public int hostBlocks(KvLayout layout) {
        if (hostTokens == UNBOUNDED) {
            return Integer.MAX_VALUE;
        }
        return (int) Math.min(Integer.MAX_VALUE, (long) blocks(hostTokens, layout.blockSize()) * layout.layers());
    }

    /** The policy's context: {@code layers}, the prompt's length, this device budget. */
    public PolicyContext context(KvLayout layout, int promptLength) {
        return PolicyContext.bounded(layout.layers(), promptLength, deviceTokens);
    }

    private static int blocks(int tokens, int blockSize) {
        return (int) (((long) tokens + blockSize - 1) / blockSize);
    }
}

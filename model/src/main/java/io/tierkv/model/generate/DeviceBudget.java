package io.tierkv.model.generate;

import io.tierkv.core.policy.PolicyContext;
import io.tierkv.core.popularity.PopularityCounters;

/**
 * A device budget given as a fraction of the prompt, in the units the tiers and the policy use: the tokens each layer
 * may keep ({@code floor(budget * prompt)}, at least one), the whole blocks each layer gets on the device (at least
 * one: the tail), and those blocks over all layers. One rule for every backend ({@link TieredSession} on the CPU, the CUDA
 * decoder's {@code generate} and {@code eval}), so that a budget means the same everywhere.
 *
 * @param tokens   tokens per layer the policy may keep (or keep on the device)
 * @param perLayer device blocks per layer
 * @param blocks   device blocks over all layers
 */
public record DeviceBudget(int tokens, int perLayer, int blocks) {
    /** The budget of {@code fraction} of a {@code promptTokens}-token prompt in blocks of {@code blockSize}, over {@code layers}. */
    public static DeviceBudget of(double fraction, int promptTokens, int blockSize, int layers) {
        if (!(fraction > 0 && fraction <= 1)) {
            throw new IllegalArgumentException("budget must be a fraction of the prompt in (0, 1], was " + fraction);
        }
        int tokens = Math.max(1, (int) Math.floor(fraction * promptTokens));
        int perLayer = Math.max(1, tokens / blockSize);
        return new DeviceBudget(tokens, perLayer, Math.multiplyExact(perLayer, layers));
    }

    /** The policy's context: {@code layers}, the prompt's length and the tokens per layer, counted by the Java counter. */
    public PolicyContext context(int layers, int promptTokens) {
        return new PolicyContext(layers, promptTokens, tokens, PopularityCounters.java());
    }

    /** Host blocks for a host budget of {@code multiple} times the device's (infinity: unbounded). */
    public int hostBlocks(double multiple) {
        return Double.isInfinite(multiple) ? Integer.MAX_VALUE : (int) Math.min(Integer.MAX_VALUE, Math.ceil(multiple * blocks));
    }
}

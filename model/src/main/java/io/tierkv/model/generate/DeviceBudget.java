package io.tierkv.model.generate;

import io.tierkv.core.policy.PolicyContext;
import io.tierkv.core.popularity.PopularityCounters;

/**
 * A device budget given as a fraction of the prompt, in the units the tiers and the policy use: the tokens each layer
 * may keep ({@code floor(budget * prompt)}, at least one), the whole blocks each layer gets on the device (at least
 * one: the tail), those blocks over all layers, and the device bytes set aside for block digests ({@link #withDigests}).
 * One rule for every backend ({@link TieredSession} on the CPU, the CUDA decoder's {@code generate} and {@code eval}),
 * so that a budget means the same everywhere.
 *
 * @param tokens      tokens per layer the policy may keep (or keep on the device)
 * @param perLayer    device blocks per layer before the digests' share
 * @param blocks      device blocks over all layers for KV (the digests' whole slots taken out)
 * @param digestBytes device bytes of the block digests reserved out of the budget (0 in exact mode)
 */
public record DeviceBudget(int tokens, int perLayer, int blocks, long digestBytes) {
    /** The budget of {@code fraction} of a {@code promptTokens}-token prompt in blocks of {@code blockSize}, over {@code layers}. */
    public static DeviceBudget of(double fraction, int promptTokens, int blockSize, int layers) {
        if (!(fraction > 0 && fraction <= 1)) {
            throw new IllegalArgumentException("budget must be a fraction of the prompt in (0, 1], was " + fraction);
        }
        int tokens = Math.max(1, (int) Math.floor(fraction * promptTokens));
        int perLayer = Math.max(1, tokens / blockSize);
        return new DeviceBudget(tokens, perLayer, Math.multiplyExact(perLayer, layers), 0);
    }

    /**
     * This budget with the digests of {@code read} taken out of it ({@code read} exact: unchanged): the digests of every
     * block of a sequence of {@code maxTokens} tokens, {@code digestBytesPerBlock} each, in {@code layers} layers, take whole
     * {@code slotBytes} device slots over all layers (the placement spends device blocks over all layers), and the policy's
     * tokens per layer shrink by the same share.
     *
     * @throws IllegalArgumentException when fewer than one KV block per layer would remain (the message names the read)
     */
    public DeviceBudget withDigests(HostRead read, int layers, int maxTokens, int blockSize, long digestBytesPerBlock, long slotBytes) {
        if (!read.digest()) {
            return this;
        }
        long bytes = (long) layers * ((maxTokens + blockSize - 1) / blockSize) * digestBytesPerBlock;
        int reserved = (int) Math.ceil(bytes / (double) slotBytes);
        int kv = blocks - reserved;
        if (kv < layers) {
            throw new IllegalArgumentException("a budget of " + tokens + " tokens (" + perLayer + " blocks per layer) cannot hold the block"
                    + " digests of --host-read " + read + " (" + reserved + " blocks over " + layers + " layers for " + maxTokens
                    + " tokens)");
        }
        int kept = Math.max(1, tokens - (int) Math.ceil((double) reserved * blockSize / layers));
        return new DeviceBudget(kept, perLayer, kv, bytes);
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

package io.tierkv.model.cuda;

import io.tierkv.core.DType;
import io.tierkv.core.policy.Policies;
import io.tierkv.cuda.driver.Backend;
import io.tierkv.cuda.ops.PagedKvShape;

/**
 * The host side of a tiered CUDA decode step without its kernels, for benchmarks: a {@link TieredKvStore} over the host
 * mirror of the device and CPU tiers, whose {@link #token} appends one token (the sequence's placement and copies, the
 * block tables kept or rebuilt, what changed uploaded) and steps the policy. Nothing is attended and no attention is
 * observed, so a policy that moves blocks only on what it observes moves them here only as blocks open. The KV shape is
 * a Llama 3 8B's (32 heads, 8 KV heads of 128, BF16, blocks of 16 tokens).
 */
public final class TieredStepBookkeeping implements AutoCloseable {
    private final HostStepDevice device;
    private final TieredKvStore store;
    private final int prompt;
    private final int maxTokens;

    /**
     * Opens the store, {@code deviceBlocksPerLayer} device blocks per layer, and appends a {@code prompt} tokens long prompt.
     *
     * @param policy a policy spec ({@code full}, {@code hierarchical}, ...)
     */
    public TieredStepBookkeeping(int layers, int maxTokens, int deviceBlocksPerLayer, String policy, int prompt) {
        if (prompt < 1 || prompt >= maxTokens) {
            throw new IllegalArgumentException("the prompt of " + prompt + " tokens must leave room below maxTokens " + maxTokens);
        }
        Policies.create(policy); // an unknown name fails here, by name
        PagedKvShape shape = new PagedKvShape(DType.BF16, 32, 8, 128, 16, 2L * 16 * 8 * 128 * 2);
        this.device = new HostStepDevice();
        try {
            this.store = TieredKvStore.open(device, shape, layers, maxTokens, Backend.CPU, deviceBlocksPerLayer,
                    () -> Policies.create(policy));
        } catch (RuntimeException | Error e) {
            device.close();
            throw e;
        }
        this.prompt = prompt;
        this.maxTokens = maxTokens;
        prefill();
    }

    private void prefill() {
        for (int t = 0; t < prompt; t++) {
            store.append();
        }
        store.endPrefill();
    }

    /** Tokens {@link #token} can still append before {@code maxTokens}. */
    public int room() {
        return maxTokens - store.tokens();
    }

    /** Starts over: a new sequence, the prompt appended again. */
    public void restart() {
        store.reset();
        prefill();
    }

    /** One generated token's bookkeeping; returns its position. */
    public int token() {
        if (room() == 0) {
            throw new IllegalStateException("the sequence is at maxTokens " + maxTokens + ": restart() first");
        }
        int position = store.append();
        store.step();
        return position;
    }

    /** Layers whose block tables were rebuilt from their views so far (the rest kept theirs). */
    public long layerBuilds() {
        return store.layerBuilds();
    }

    @Override
    public void close() {
        try {
            store.close();
        } finally {
            device.close();
        }
    }
}

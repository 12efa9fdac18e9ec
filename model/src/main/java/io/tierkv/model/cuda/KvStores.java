package io.tierkv.model.cuda;

import io.tierkv.core.policy.KvPolicy;
import io.tierkv.core.policy.Policies;
import io.tierkv.cuda.driver.Backend;
import io.tierkv.cuda.ops.PagedKvShape;
import java.util.function.Supplier;

/** How {@link CudaDecoder} opens its {@link KvStore}: all on the device, or in tiering's tiers. */
@FunctionalInterface
interface KvStores {
    /** A store for {@code layers} layers of {@code shape} blocks and up to {@code maxTokens} tokens on {@code device}. */
    KvStore open(StepDevice device, PagedKvShape shape, int layers, int maxTokens);

    /** Every block on the device ({@link PagedKvCache}). */
    KvStores PAGED = (device, shape, layers, maxTokens) ->
            new PagedKvCache(device, shape, layers, KvBlockTable.blocksFor(maxTokens, shape.blockSize()));

    /** Tiering's tiers on {@code backend}, {@code deviceBlocksPerLayer} device blocks per layer ({@link TieredKvStore}). */
    static KvStores tiered(Backend backend, int deviceBlocksPerLayer) {
        return tiered(backend, deviceBlocksPerLayer, () -> Policies.create("full"));
    }

    /**
     * Tiering's tiers on {@code backend} with a fresh policy from {@code policies} per sequence: when it observes attention,
     * every decode step's top-k per layer is selected on the device and fed to the sequence ({@link TieredKvStore#observe}).
     */
    static KvStores tiered(Backend backend, int deviceBlocksPerLayer, Supplier<KvPolicy> policies) {
        if (deviceBlocksPerLayer < 1) {
            throw new IllegalArgumentException("the device tier needs at least one block per layer (the tail), was " + deviceBlocksPerLayer);
        }
        return tiered(backend, deviceBlocksPerLayer, policies, io.tierkv.model.generate.HostRead.EXACT);
    }

    /** As above, decode steps reading the host tier as {@code hostRead} says ({@code digest}: only the top-ranked host blocks). */
    static KvStores tiered(Backend backend, int deviceBlocksPerLayer, Supplier<KvPolicy> policies, io.tierkv.model.generate.HostRead hostRead) {
        if (deviceBlocksPerLayer < 1) {
            throw new IllegalArgumentException("the device tier needs at least one block per layer (the tail), was " + deviceBlocksPerLayer);
        }
        return tiered(backend, deviceBlocksPerLayer, policies, hostRead, HostAttention.configured());
    }

    /** As above, the host tier's blocks attended as {@code hostAttention} says (on the device in place, or on the CPU). */
    static KvStores tiered(Backend backend, int deviceBlocksPerLayer, Supplier<KvPolicy> policies, io.tierkv.model.generate.HostRead hostRead,
                           HostAttention hostAttention) {
        if (deviceBlocksPerLayer < 1) {
            throw new IllegalArgumentException("the device tier needs at least one block per layer (the tail), was " + deviceBlocksPerLayer);
        }
        return (device, shape, layers, maxTokens) -> TieredKvStore.open(device, shape, layers, maxTokens, backend, deviceBlocksPerLayer,
                policies, hostRead, hostAttention);
    }
}

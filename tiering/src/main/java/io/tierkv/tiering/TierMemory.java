package io.tierkv.tiering;

import io.tierkv.cuda.driver.Backend;
import io.tierkv.tiering.arena.SlotArena;
import io.tierkv.tiering.copy.CopyEngine;
import io.tierkv.tiering.copy.CopySink;

/**
 * What one backend gives a tier manager: the device arena, the host arena and the copy engine between
 * them. Closing it drains the engine, then frees the arenas, then whatever the backend holds (the CUDA
 * context), in that order.
 */
interface TierMemory extends AutoCloseable {

    SlotArena device();

    SlotArena host();

    CopyEngine engine();

    @Override
    void close();

    /** Builds the memory of {@code config.backend()}; completed copies go to {@code sink}. */
    static TierMemory open(TierConfig config, CopySink sink) {
        return config.backend() == Backend.CUDA ? CudaTierMemory.open(config, sink) : CpuTierMemory.open(config, sink);
    }
}

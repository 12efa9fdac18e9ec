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
abstract class TierMemory implements AutoCloseable {
    private final SlotArena device;
    private final SlotArena host;
    private final CopyEngine engine;
    private boolean closed;

    TierMemory(SlotArena device, SlotArena host, CopyEngine engine) {
        this.device = device;
        this.host = host;
        this.engine = engine;
    }

    /** Builds the memory of {@code config.backend()}; completed copies go to {@code sink}. */
    static TierMemory open(TierConfig config, CopySink sink) {
        return config.backend() == Backend.CUDA ? CudaTierMemory.open(config, sink) : CpuTierMemory.open(config, sink);
    }

    SlotArena device() {
        return device;
    }

    SlotArena host() {
        return host;
    }

    CopyEngine engine() {
        return engine;
    }

    /** Closes in the order above, once; the backend's own resources go last even when the rest fails. */
    @Override
    public final void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            engine.close();
        } finally {
            try {
                device.close();
                host.close();
            } finally {
                releaseBackend();
            }
        }
    }

    /** Frees what the backend holds beyond the arenas and the engine; nothing by default. */
    void releaseBackend() {
    }
}

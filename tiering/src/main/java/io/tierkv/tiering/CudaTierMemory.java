package io.tierkv.tiering;

import io.tierkv.cuda.driver.CudaContext;
import io.tierkv.tiering.arena.DeviceSlab;
import io.tierkv.tiering.arena.PinnedSlab;
import io.tierkv.tiering.arena.SlotArena;
import io.tierkv.tiering.copy.CopyEngine;
import io.tierkv.tiering.copy.CopySink;
import io.tierkv.tiering.copy.CudaCopyEngine;

/**
 * The CUDA backend: the device arena on one {@code cuMemAlloc} slab, the host arena on one pinned
 * {@code cuMemHostAlloc} slab, copies on two streams, all in the device's primary context (the one libtorch
 * uses), which this object retains and releases last.
 */
final class CudaTierMemory extends TierMemory {
    private final CudaContext context;

    private CudaTierMemory(CudaContext context, SlotArena device, SlotArena host, CopyEngine engine) {
        super(device, host, engine);
        this.context = context;
    }

    static CudaTierMemory open(TierConfig config, CopySink sink) {
        long slot = config.slotBytes();
        CudaContext context = CudaContext.primary(config.deviceOrdinal());
        SlotArena device = null;
        SlotArena host = null;
        try {
            DeviceSlab deviceSlab = new DeviceSlab(context, slot * config.deviceCapacityBlocks());
            device = new SlotArena("device", deviceSlab, slot);
            PinnedSlab pinnedSlab = new PinnedSlab(context, slot * config.hostCapacityBlocks());
            host = new SlotArena("host", pinnedSlab, slot);
            CopyEngine engine = new CudaCopyEngine(context, deviceSlab.buffer(), pinnedSlab.buffer(), slot, sink,
                    config.faults(), config.maxInFlightCopies(), config.maxRunBlocks());
            return new CudaTierMemory(context, device, host, engine);
        } catch (RuntimeException | Error e) {
            if (device != null) {
                device.close();
            }
            if (host != null) {
                host.close();
            }
            context.close();
            throw e;
        }
    }

    /** The retained primary context. */
    CudaContext context() {
        return context;
    }

    /** Releases the retained primary context, after everything allocated in it. */
    @Override
    void releaseBackend() {
        context.close();
    }
}

package io.tierkv.tiering;

import io.tierkv.tiering.arena.SlotArena;
import io.tierkv.tiering.copy.CopyEngine;
import io.tierkv.tiering.copy.CopySink;
import io.tierkv.tiering.copy.CpuCopyEngine;

/** The CPU mode: both arenas on aligned off-heap memory, a copy thread between them. */
final class CpuTierMemory extends TierMemory {

    private CpuTierMemory(SlotArena device, SlotArena host, CopyEngine engine) {
        super(device, host, engine);
    }

    static CpuTierMemory open(TierConfig config, CopySink sink) {
        long slot = config.slotBytes();
        SlotArena device = SlotArena.offHeap("device", slot, config.deviceCapacityBlocks(), BlockDescriptor.SLAB_ALIGNMENT);
        SlotArena host = null;
        try {
            host = SlotArena.offHeap("host", slot, config.hostCapacityBlocks(), BlockDescriptor.SLAB_ALIGNMENT);
            CopyEngine engine = new CpuCopyEngine(device, host, sink, config.faults(), config.maxInFlightCopies(), config.maxRunBlocks());
            return new CpuTierMemory(device, host, engine);
        } catch (RuntimeException | Error e) {
            device.close();
            if (host != null) {
                host.close();
            }
            throw e;
        }
    }
}

package io.tierkv.tiering.arena;

import io.tierkv.core.memory.MemoryKind;
import io.tierkv.cuda.driver.CudaContext;
import io.tierkv.cuda.driver.PinnedBuffer;
import org.agrona.UnsafeApi;

/**
 * The CUDA host tier: one {@code cuMemHostAlloc} slab of page-locked memory (a {@link PinnedBuffer}, which
 * reports itself to the ledger as PINNED), zeroed at creation. The CPU reads and writes it directly, and
 * asynchronous copies to and from it run at full bus speed.
 */
public final class PinnedSlab extends AbstractSlab {
    /** (bytes) page-locked host memory; slots of the owner's layout. */
    private final PinnedBuffer buffer;

    public PinnedSlab(CudaContext context, long bytes) {
        super(MemoryKind.PINNED, bytes);
        this.buffer = new PinnedBuffer(context, bytes);
        UnsafeApi.setMemory(buffer.address(), bytes, (byte) 0);
    }

    /** The pinned buffer, for the CUDA copy engine. */
    public PinnedBuffer buffer() {
        return buffer;
    }

    @Override
    public long address() {
        return buffer.address();
    }

    @Override
    void free() {
        buffer.close();
    }
}

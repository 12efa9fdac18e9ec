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
public final class PinnedSlab implements Slab {
    /** (bytes) page-locked host memory; slots of the owner's layout. */
    private final PinnedBuffer buffer;
    private boolean closed;

    public PinnedSlab(CudaContext context, long bytes) {
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
    public long bytes() {
        return buffer.bytes();
    }

    @Override
    public MemoryKind kind() {
        return MemoryKind.PINNED;
    }

    @Override
    public boolean hostAccessible() {
        return true;
    }

    @Override
    public void write(long offset, byte[] src, int srcOffset, int length) {
        Slab.checkRange(this, offset, length, "write");
        java.util.Objects.checkFromIndexSize(srcOffset, length, src.length);
        UnsafeApi.copyMemory(src, UnsafeApi.arrayBaseOffset(byte[].class) + srcOffset, null, buffer.address() + offset, length);
    }

    @Override
    public void read(long offset, byte[] dst, int dstOffset, int length) {
        Slab.checkRange(this, offset, length, "read");
        java.util.Objects.checkFromIndexSize(dstOffset, length, dst.length);
        UnsafeApi.copyMemory(null, buffer.address() + offset, dst, UnsafeApi.arrayBaseOffset(byte[].class) + dstOffset, length);
    }

    @Override
    public boolean isClosed() {
        return closed;
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            buffer.close();
        }
    }
}

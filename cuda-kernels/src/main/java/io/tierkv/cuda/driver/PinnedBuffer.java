package io.tierkv.cuda.driver;

import io.tierkv.core.memory.MemoryKind;
import io.tierkv.core.memory.MemoryLedger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.concurrent.atomic.AtomicBoolean;
import jcuda.Pointer;
import jcuda.driver.JCudaDriver;

/**
 * Page-locked host memory from {@code cuMemHostAlloc(CU_MEMHOSTALLOC_PORTABLE)}, reported to
 * {@link MemoryLedger} as {@link MemoryKind#PINNED}. Copies to and from it run asynchronously at full
 * PCIe speed; the CPU reads and writes it through {@link #buffer()} or {@link #address()}.
 */
public final class PinnedBuffer implements AutoCloseable {
    private final CudaContext context;
    private final NativeAddress.Host pointer = new NativeAddress.Host();
    private final long bytes;
    private final long address;
    private final AtomicBoolean closed = new AtomicBoolean();

    /** Allocates {@code bytes} (> 0) of pinned host memory, usable from every context (portable). */
    public PinnedBuffer(CudaContext context, long bytes) {
        if (bytes <= 0) {
            throw new IllegalArgumentException("bytes must be > 0, was " + bytes);
        }
        this.context = context;
        this.bytes = bytes;
        context.makeCurrent();
        Cuda.check(JCudaDriver.cuMemHostAlloc(pointer, bytes, JCudaDriver.CU_MEMHOSTALLOC_PORTABLE),
                "cuMemHostAlloc(PORTABLE) of " + bytes + " bytes for " + context.where());
        this.address = pointer.address();
        MemoryLedger.allocated(MemoryKind.PINNED, bytes);
    }

    /** The host pointer to the first byte. */
    public Pointer pointer() {
        ensureOpen();
        return pointer;
    }

    /** The host pointer {@code byteOffset} bytes in; {@code byteOffset} may equal {@link #bytes()}. */
    public Pointer pointer(long byteOffset) {
        ensureOpen();
        if (byteOffset < 0 || byteOffset > bytes) {
            throw new IllegalArgumentException("byteOffset must be in [0, " + bytes + "], was " + byteOffset);
        }
        return pointer.withByteOffset(byteOffset);
    }

    /** A native-order direct buffer over all of it (at most 2 GiB; use {@link #buffer(long, int)} beyond). */
    public ByteBuffer buffer() {
        if (bytes > Integer.MAX_VALUE) {
            throw new IllegalStateException("pinned buffer of " + bytes + " bytes exceeds one ByteBuffer; use buffer(offset, length)");
        }
        return buffer(0, (int) bytes);
    }

    /** A native-order direct buffer over {@code length} bytes from {@code byteOffset}. */
    public ByteBuffer buffer(long byteOffset, int length) {
        ensureOpen();
        CudaCopies.checkRange("pinned buffer", bytes, byteOffset, length);
        return pointer.getByteBuffer(byteOffset, length).order(ByteOrder.nativeOrder());
    }

    /** The host address of the first byte. */
    public long address() {
        ensureOpen();
        return address;
    }

    /** The size in bytes. */
    public long bytes() {
        return bytes;
    }

    /** The context it was allocated for. */
    public CudaContext context() {
        return context;
    }

    /** True once closed. */
    public boolean isClosed() {
        return closed.get();
    }

    private void ensureOpen() {
        if (closed.get()) {
            throw new IllegalStateException("pinned buffer of " + bytes + " bytes is closed");
        }
    }

    /**
     * Frees the memory; idempotent. ByteBuffers from {@link #buffer()} must not be used afterwards.
     * The ledger records the free even if the driver fails.
     */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            try {
                context.makeCurrent();
                Cuda.check(JCudaDriver.cuMemFreeHost(pointer), "cuMemFreeHost of " + bytes + " bytes");
            } finally {
                MemoryLedger.freed(MemoryKind.PINNED, bytes);
            }
        }
    }

    @Override
    public String toString() {
        return "PinnedBuffer[" + bytes + " bytes at 0x" + Long.toHexString(address) + "]";
    }
}

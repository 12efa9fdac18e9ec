package io.tierkv.cuda.driver;

import io.tierkv.core.memory.MemoryKind;
import io.tierkv.core.memory.MemoryLedger;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.LongSupplier;
import jcuda.Pointer;

/**
 * What {@link DeviceBuffer} and {@link PinnedBuffer} share: the size check, the open/closed state, bounds-checked
 * pointers, and a {@link MemoryLedger} entry that lives exactly as long as the allocation. Subclasses only
 * say which driver calls allocate and free.
 *
 * @param <P> the pointer type handed out: {@code CUdeviceptr} or a host {@code Pointer}
 */
abstract class NativeBuffer<P extends Pointer> implements AutoCloseable {
    private final CudaContext context;
    private final MemoryKind kind;
    final P pointer;
    private final long bytes;
    /** Kept after close, for {@code toString}. */
    final long address;
    private final AtomicBoolean closed = new AtomicBoolean();

    /**
     * Checks {@code bytes} (> 0), makes {@code context} current and runs {@code allocate}, which fills
     * {@code pointer} through the driver and returns its address. Only a successful allocation is recorded.
     */
    NativeBuffer(CudaContext context, long bytes, MemoryKind kind, P pointer, LongSupplier allocate) {
        if (bytes <= 0) {
            throw new IllegalArgumentException("bytes must be > 0, was " + bytes);
        }
        this.context = context;
        this.kind = kind;
        this.pointer = pointer;
        this.bytes = bytes;
        context.makeCurrent();
        this.address = allocate.getAsLong();
        MemoryLedger.allocated(kind, bytes);
    }

    /** The pointer to the first byte. */
    public P pointer() {
        ensureOpen();
        return pointer;
    }

    /** The pointer {@code byteOffset} bytes in; {@code byteOffset} may equal {@link #bytes()}. */
    @SuppressWarnings("unchecked") // CUdeviceptr.withByteOffset returns a CUdeviceptr
    public P pointer(long byteOffset) {
        ensureOpen();
        if (byteOffset < 0 || byteOffset > bytes) {
            throw new IllegalArgumentException("byteOffset must be in [0, " + bytes + "], was " + byteOffset);
        }
        return (P) pointer.withByteOffset(byteOffset);
    }

    /** The address of the first byte. */
    public long address() {
        ensureOpen();
        return address;
    }

    /** The size in bytes. */
    public long bytes() {
        return bytes;
    }

    /** The context it was allocated in (device memory) or for (pinned memory). */
    public CudaContext context() {
        return context;
    }

    /** True once closed. */
    public boolean isClosed() {
        return closed.get();
    }

    void ensureOpen() {
        if (closed.get()) {
            throw new IllegalStateException(describe() + " is closed");
        }
    }

    /** Names the buffer in errors, e.g. "device buffer of 256 bytes on device 0 (...)". */
    abstract String describe();

    /** Returns the memory to the driver; called once, by {@link #close()}, with the context current. */
    abstract void free();

    /**
     * Frees the memory; idempotent. The caller makes sure no queued work still uses it. The ledger records
     * the free even if the driver fails, since the allocation is unusable either way.
     */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            try {
                context.makeCurrent();
                free();
            } finally {
                MemoryLedger.freed(kind, bytes);
            }
        }
    }
}

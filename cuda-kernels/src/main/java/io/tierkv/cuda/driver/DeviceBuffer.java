package io.tierkv.cuda.driver;

import io.tierkv.core.memory.MemoryKind;
import io.tierkv.core.memory.MemoryLedger;
import java.util.concurrent.atomic.AtomicBoolean;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.JCudaDriver;

/**
 * One {@code cuMemAlloc} allocation of device memory, reported to {@link MemoryLedger} as
 * {@link MemoryKind#DEVICE}. The allocation is 256-byte aligned (a driver guarantee); contents are
 * undefined until written.
 */
public final class DeviceBuffer implements AutoCloseable {
    private final CudaContext context;
    private final NativeAddress.Device pointer = new NativeAddress.Device();
    private final long bytes;
    private final long address;
    private final AtomicBoolean closed = new AtomicBoolean();

    /** Allocates {@code bytes} (> 0) on the context's device. */
    public DeviceBuffer(CudaContext context, long bytes) {
        if (bytes <= 0) {
            throw new IllegalArgumentException("bytes must be > 0, was " + bytes);
        }
        this.context = context;
        this.bytes = bytes;
        context.makeCurrent();
        Cuda.check(JCudaDriver.cuMemAlloc(pointer, bytes), "cuMemAlloc of " + bytes + " bytes on " + context.where());
        this.address = pointer.address();
        MemoryLedger.allocated(MemoryKind.DEVICE, bytes);
    }

    /** The device pointer to the first byte. */
    public CUdeviceptr pointer() {
        ensureOpen();
        return pointer;
    }

    /** The device pointer {@code byteOffset} bytes in; {@code byteOffset} may equal {@link #bytes()}. */
    public CUdeviceptr pointer(long byteOffset) {
        ensureOpen();
        if (byteOffset < 0 || byteOffset > bytes) {
            throw new IllegalArgumentException("byteOffset must be in [0, " + bytes + "], was " + byteOffset);
        }
        return pointer.withByteOffset(byteOffset);
    }

    /** The device address of the first byte. */
    public long address() {
        ensureOpen();
        return address;
    }

    /** The size in bytes. */
    public long bytes() {
        return bytes;
    }

    /** The context it was allocated in. */
    public CudaContext context() {
        return context;
    }

    /** Sets {@code length} bytes from {@code byteOffset} to {@code value}, ordered on {@code stream}. */
    public void fill(long byteOffset, long length, byte value, CudaStream stream) {
        CudaCopies.checkRange("buffer", bytes, byteOffset, length);
        context.makeCurrent();
        Cuda.check(JCudaDriver.cuMemsetD8Async(pointer(byteOffset), value, length, stream.handle()),
                "cuMemsetD8Async of " + length + " bytes on " + context.where());
    }

    /** True once closed. */
    public boolean isClosed() {
        return closed.get();
    }

    private void ensureOpen() {
        if (closed.get()) {
            throw new IllegalStateException("device buffer of " + bytes + " bytes on " + context.where() + " is closed");
        }
    }

    /**
     * Frees the memory; idempotent. The caller makes sure no queued work still uses it (the copy
     * engine waits for the last event first). The ledger records the free even if the driver fails,
     * since the allocation is unusable either way.
     */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            try {
                context.makeCurrent();
                Cuda.check(JCudaDriver.cuMemFree(pointer), "cuMemFree of " + bytes + " bytes on " + context.where());
            } finally {
                MemoryLedger.freed(MemoryKind.DEVICE, bytes);
            }
        }
    }

    @Override
    public String toString() {
        return "DeviceBuffer[" + bytes + " bytes at 0x" + Long.toHexString(address) + " on " + context.where() + "]";
    }
}

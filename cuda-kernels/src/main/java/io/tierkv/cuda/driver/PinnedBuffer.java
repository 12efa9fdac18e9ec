package io.tierkv.cuda.driver;

import io.tierkv.core.memory.MemoryKind;
import io.tierkv.core.memory.MemoryLedger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import jcuda.Pointer;
import jcuda.driver.JCudaDriver;

/**
 * Page-locked host memory from {@code cuMemHostAlloc(CU_MEMHOSTALLOC_PORTABLE)}, reported to
 * {@link MemoryLedger} as {@link MemoryKind#PINNED}. Copies to and from it run asynchronously at full
 * PCIe speed; the CPU reads and writes it through {@link #buffer()} or {@link #address()}. ByteBuffers
 * from {@link #buffer()} must not be used after {@link #close()}.
 */
public final class PinnedBuffer extends NativeBuffer<Pointer> {

    /** Allocates {@code bytes} (> 0) of pinned host memory, usable from every context (portable). */
    public PinnedBuffer(CudaContext context, long bytes) {
        this(context, bytes, new NativeAddress.Host());
    }

    private PinnedBuffer(CudaContext context, long bytes, NativeAddress.Host pointer) {
        super(context, bytes, MemoryKind.PINNED, pointer, () -> {
            Cuda.check(JCudaDriver.cuMemHostAlloc(pointer, bytes, JCudaDriver.CU_MEMHOSTALLOC_PORTABLE),
                    "cuMemHostAlloc(PORTABLE) of " + bytes + " bytes for " + context.where());
            return pointer.address();
        });
    }

    /** A native-order direct buffer over all of it (at most 2 GiB; use {@link #buffer(long, int)} beyond). */
    public ByteBuffer buffer() {
        if (bytes() > Integer.MAX_VALUE) {
            throw new IllegalStateException("pinned buffer of " + bytes() + " bytes exceeds one ByteBuffer; use buffer(offset, length)");
        }
        return buffer(0, (int) bytes());
    }

    /** A native-order direct buffer over {@code length} bytes from {@code byteOffset}. */
    public ByteBuffer buffer(long byteOffset, int length) {
        ensureOpen();
        CudaCopies.checkRange("pinned buffer", bytes(), byteOffset, length);
        return pointer.getByteBuffer(byteOffset, length).order(ByteOrder.nativeOrder());
    }

    @Override
    String describe() {
        return "pinned buffer of " + bytes() + " bytes";
    }

    @Override
    void free() {
        Cuda.check(JCudaDriver.cuMemFreeHost(pointer), "cuMemFreeHost of " + bytes() + " bytes");
    }

    @Override
    public String toString() {
        return "PinnedBuffer[" + bytes() + " bytes at 0x" + Long.toHexString(address) + "]";
    }
}

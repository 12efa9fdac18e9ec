package io.tierkv.cuda.driver;

import io.tierkv.core.memory.MemoryKind;
import io.tierkv.core.memory.MemoryLedger;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.JCudaDriver;

/**
 * One {@code cuMemAlloc} allocation of device memory, reported to {@link MemoryLedger} as
 * {@link MemoryKind#DEVICE}. The allocation is 256-byte aligned (a driver guarantee); contents are
 * undefined until written. Before {@link #close()} the caller makes sure no queued work still uses it
 * (the copy engine waits for the last event first).
 */
public final class DeviceBuffer extends NativeBuffer<CUdeviceptr> {

    /** Allocates {@code bytes} (> 0) on the context's device. */
    public DeviceBuffer(CudaContext context, long bytes) {
        this(context, bytes, new NativeAddress.Device());
    }

    private DeviceBuffer(CudaContext context, long bytes, NativeAddress.Device pointer) {
        super(context, bytes, MemoryKind.DEVICE, pointer, () -> {
            Cuda.check(JCudaDriver.cuMemAlloc(pointer, bytes), "cuMemAlloc of " + bytes + " bytes on " + context.where());
            return pointer.address();
        });
    }

    /** Sets {@code length} bytes from {@code byteOffset} to {@code value}, ordered on {@code stream}. */
    public void fill(long byteOffset, long length, byte value, CudaStream stream) {
        CudaCopies.checkRange("buffer", bytes(), byteOffset, length);
        context().makeCurrent();
        Cuda.check(JCudaDriver.cuMemsetD8Async(pointer(byteOffset), value, length, stream.handle()),
                "cuMemsetD8Async of " + length + " bytes on " + context().where());
    }

    @Override
    String describe() {
        return "device buffer of " + bytes() + " bytes on " + context().where();
    }

    @Override
    void free() {
        Cuda.check(JCudaDriver.cuMemFree(pointer), "cuMemFree of " + bytes() + " bytes on " + context().where());
    }

    @Override
    public String toString() {
        return "DeviceBuffer[" + bytes() + " bytes at 0x" + Long.toHexString(address) + " on " + context().where() + "]";
    }
}

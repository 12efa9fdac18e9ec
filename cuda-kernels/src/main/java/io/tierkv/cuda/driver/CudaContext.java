package io.tierkv.cuda.driver;

import java.util.concurrent.atomic.AtomicBoolean;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUresult;
import jcuda.driver.JCudaDriver;

/**
 * A device's <em>primary</em> context, retained for as long as this object is open.
 *
 * <p>The primary context is the one the CUDA runtime (and so libtorch) uses, so device memory
 * allocated here can be wrapped by libtorch tensors and vice versa. A driver context is current per
 * thread: call {@link #makeCurrent()} on every thread that issues driver calls (the copy thread
 * included). Every wrapper in this package does so itself before it allocates, frees or enqueues.
 *
 * <p>{@link #close()} releases the retain; the driver destroys the context when its last retain is
 * released (libtorch holds its own). Close every buffer, stream, event and module first.
 */
public final class CudaContext implements AutoCloseable {
    private final CUdevice device;
    private final CUcontext context;
    private final CudaDevice info;
    private final AtomicBoolean closed = new AtomicBoolean();

    private CudaContext(CUdevice device, CUcontext context, CudaDevice info) {
        this.device = device;
        this.context = context;
        this.info = info;
    }

    /**
     * Retains the primary context of device {@code ordinal} and makes it current on this thread.
     *
     * @throws LinkageError  when the JCuda driver library cannot load (check {@link BackendSelection} first)
     * @throws CudaException when the driver refuses
     */
    public static CudaContext primary(int ordinal) {
        Cuda.init();
        CUdevice device = CudaDevice.handle(ordinal);
        CudaDevice info = CudaDevice.get(ordinal);
        CUcontext context = new CUcontext();
        Cuda.check(JCudaDriver.cuDevicePrimaryCtxRetain(context, device),
                "cuDevicePrimaryCtxRetain on device " + ordinal + " (" + info.name() + ")");
        CudaContext c = new CudaContext(device, context, info);
        try {
            c.makeCurrent();
        } catch (CudaException e) {
            c.close();
            throw e;
        }
        return c;
    }

    /** Binds this context to the calling thread; cheap, call it before driver calls on any thread. */
    public void makeCurrent() {
        ensureOpen();
        int r = JCudaDriver.cuCtxSetCurrent(context);
        if (r != CUresult.CUDA_SUCCESS) {
            throw Cuda.failure(r, "cuCtxSetCurrent on device " + info.ordinal());
        }
    }

    /** Waits until all work queued in this context (all streams) has finished. */
    public void synchronize() {
        makeCurrent();
        Cuda.check(JCudaDriver.cuCtxSynchronize(), "cuCtxSynchronize on device " + info.ordinal());
    }

    /** The driver handle. */
    public CUcontext handle() {
        ensureOpen();
        return context;
    }

    /** The device's ordinal. */
    public int ordinal() {
        return info.ordinal();
    }

    /** The device's name, for example {@code NVIDIA H200}. */
    public String deviceName() {
        return info.name();
    }

    /** The device's memory in bytes. */
    public long totalMemory() {
        return info.totalMemory();
    }

    /** Everything the driver said about the device. */
    public CudaDevice device() {
        return info;
    }

    /** Free and total device memory now, in bytes: {@code {free, total}}. */
    public long[] memoryInfo() {
        makeCurrent();
        long[] free = new long[1];
        long[] total = new long[1];
        Cuda.check(JCudaDriver.cuMemGetInfo(free, total), "cuMemGetInfo on device " + info.ordinal());
        return new long[] {free[0], total[0]};
    }

    /** True once {@link #close()} ran. */
    public boolean isClosed() {
        return closed.get();
    }

    void ensureOpen() {
        if (closed.get()) {
            throw new IllegalStateException("the CUDA context of device " + info.ordinal() + " is closed");
        }
    }

    /** What the messages of this context's wrappers call it: {@code device 0 (NVIDIA H200)}. */
    String where() {
        return "device " + info.ordinal() + " (" + info.name() + ")";
    }

    /** Releases the primary context; idempotent. */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            Cuda.check(JCudaDriver.cuDevicePrimaryCtxRelease(device), "cuDevicePrimaryCtxRelease on " + where());
        }
    }

    @Override
    public String toString() {
        return "CudaContext[" + where() + (closed.get() ? ", closed]" : "]");
    }
}

package io.tierkv.cuda.driver;

import java.util.concurrent.atomic.AtomicBoolean;
import jcuda.driver.CUevent;
import jcuda.driver.CUevent_flags;
import jcuda.driver.CUresult;
import jcuda.driver.JCudaDriver;

/**
 * A point in a stream's work: the copy engine records one after each copy and flips a block's
 * residency once {@link #isComplete()}; benchmarks time kernels between two of them.
 */
public final class CudaEvent implements AutoCloseable {
    private final CudaContext context;
    private final CUevent event = new CUevent();
    private final boolean timing;
    private final AtomicBoolean closed = new AtomicBoolean();

    /** An event that can also time ({@link #elapsedMillisSince}). */
    public CudaEvent(CudaContext context) {
        this(context, true);
    }

    /** An event; {@code timing = false} makes record and query cheaper when only completion matters. */
    public CudaEvent(CudaContext context, boolean timing) {
        this.context = context;
        this.timing = timing;
        context.makeCurrent();
        Cuda.check(JCudaDriver.cuEventCreate(event, timing ? CUevent_flags.CU_EVENT_DEFAULT : CUevent_flags.CU_EVENT_DISABLE_TIMING),
                "cuEventCreate on " + context.where());
    }

    /** The driver handle. */
    public CUevent handle() {
        ensureOpen();
        return event;
    }

    /** Captures the work queued on {@code stream} so far. */
    public void record(CudaStream stream) {
        ensureOpen();
        context.makeCurrent();
        int r = JCudaDriver.cuEventRecord(event, stream.handle());
        if (r != CUresult.CUDA_SUCCESS) {
            throw Cuda.failure(r, "cuEventRecord on " + context.where());
        }
    }

    /** True when the captured work has finished (or nothing was recorded); never blocks. */
    public boolean isComplete() {
        ensureOpen();
        context.makeCurrent();
        int result = JCudaDriver.cuEventQuery(event);
        if (result == CUresult.CUDA_ERROR_NOT_READY) {
            return false;
        }
        if (result != CUresult.CUDA_SUCCESS) {
            throw Cuda.failure(result, "cuEventQuery on " + context.where());
        }
        return true;
    }

    /** Blocks until the captured work has finished. */
    public void synchronize() {
        ensureOpen();
        context.makeCurrent();
        int r = JCudaDriver.cuEventSynchronize(event);
        if (r != CUresult.CUDA_SUCCESS) {
            throw Cuda.failure(r, "cuEventSynchronize on " + context.where());
        }
    }

    /** Milliseconds between {@code start} and this event, both recorded and complete, both timing events. */
    public float elapsedMillisSince(CudaEvent start) {
        if (!timing || !start.timing) {
            throw new IllegalStateException("elapsedMillisSince needs two timing events; one was created with timing = false");
        }
        ensureOpen();
        context.makeCurrent();
        float[] ms = new float[1];
        Cuda.check(JCudaDriver.cuEventElapsedTime(ms, start.handle(), event), "cuEventElapsedTime on " + context.where());
        return ms[0];
    }

    /** True once closed. */
    public boolean isClosed() {
        return closed.get();
    }

    private void ensureOpen() {
        if (closed.get()) {
            throw new IllegalStateException("CUDA event on " + context.where() + " is closed");
        }
    }

    /** Destroys the event; idempotent. */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            context.makeCurrent();
            Cuda.check(JCudaDriver.cuEventDestroy(event), "cuEventDestroy on " + context.where());
        }
    }
}

package io.tierkv.cuda.driver;

import java.util.concurrent.atomic.AtomicBoolean;
import jcuda.driver.CUresult;
import jcuda.driver.CUstream;
import jcuda.driver.CUstream_flags;
import jcuda.driver.JCudaDriver;

/**
 * A non-blocking stream: work on it does not wait for the legacy default stream, so a copy stream
 * runs beside compute. Order work across streams with {@link CudaEvent}s.
 */
public final class CudaStream implements AutoCloseable {
    private final CudaContext context;
    private final CUstream stream = new CUstream();
    private final AtomicBoolean closed = new AtomicBoolean();
    private boolean capturing; // inside CudaGraph.capture: work is recorded, not run

    /** Creates a non-blocking stream in {@code context}. */
    public CudaStream(CudaContext context) {
        this.context = context;
        context.makeCurrent();
        Cuda.check(JCudaDriver.cuStreamCreate(stream, CUstream_flags.CU_STREAM_NON_BLOCKING),
                "cuStreamCreate(NON_BLOCKING) on " + context.where());
    }

    /** The driver handle. */
    public CUstream handle() {
        ensureOpen();
        return stream;
    }

    /** The context this stream belongs to. */
    public CudaContext context() {
        return context;
    }

    /** Blocks until all work queued on this stream has finished. */
    public void synchronize() {
        ensureOpen();
        context.makeCurrent();
        int r = JCudaDriver.cuStreamSynchronize(stream);
        if (r != CUresult.CUDA_SUCCESS) {
            throw Cuda.failure(r, "cuStreamSynchronize on " + context.where());
        }
    }

    /** Makes later work on this stream wait for {@code event} (recorded on any stream); the host does not wait. */
    public void waitFor(CudaEvent event) {
        ensureOpen();
        context.makeCurrent();
        int r = JCudaDriver.cuStreamWaitEvent(stream, event.handle(), 0);
        if (r != CUresult.CUDA_SUCCESS) {
            throw Cuda.failure(r, "cuStreamWaitEvent on " + context.where());
        }
    }

    /**
     * Whether the stream is being captured into a {@link CudaGraph}: what is enqueued now is recorded, not run, and nothing
     * may wait for it (a {@link ReuseFence} records no event then: the graph's work is ordered by this stream).
     */
    public boolean isCapturing() {
        return capturing;
    }

    void capturing(boolean on) {
        capturing = on;
    }

    /** True once closed. */
    public boolean isClosed() {
        return closed.get();
    }

    private void ensureOpen() {
        if (closed.get()) {
            throw new IllegalStateException("CUDA stream on " + context.where() + " is closed");
        }
    }

    /** Destroys the stream (work already queued still completes); idempotent. */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            context.makeCurrent();
            Cuda.check(JCudaDriver.cuStreamDestroy(stream), "cuStreamDestroy on " + context.where());
        }
    }
}

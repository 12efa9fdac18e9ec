package io.tierkv.cuda.driver;

import java.util.concurrent.atomic.AtomicBoolean;
import jcuda.driver.CUgraph;
import jcuda.driver.CUgraphExec;
import jcuda.driver.CUresult;
import jcuda.driver.CUstreamCaptureMode;
import jcuda.driver.JCudaDriver;

/**
 * The launches one piece of host code enqueues on a stream, captured once ({@code cuStreamBeginCapture} ..
 * {@code cuStreamEndCapture}) and instantiated, then launched as one unit: one driver call replays them all, with the
 * arguments they had when captured. Values that change between launches must therefore be read by the kernels from
 * device memory, written before each {@link #launch}.
 *
 * <p>Inside {@link #capture}'s work nothing may wait for the stream or copy through the host (no synchronise, no
 * pageable copy, no allocation that waits): the capture fails with the driver's error, and the stream is left out of
 * capture mode. A {@link ReuseFence} records nothing during a capture, nor does a launch record it, so buffers that
 * captured work uses must be used on that one stream only (or waited for with a stream synchronise). Not thread-safe;
 * the capture mode is thread-local, so other threads' streams are unaffected.
 */
public final class CudaGraph implements AutoCloseable {
    private final CudaContext context;
    private final CUgraphExec exec;
    private final AtomicBoolean closed = new AtomicBoolean();

    private CudaGraph(CudaContext context, CUgraphExec exec) {
        this.context = context;
        this.exec = exec;
    }

    /**
     * Runs {@code work} with {@code stream} in capture mode (what it enqueues there is recorded, not run) and instantiates
     * the result.
     *
     * @throws CudaException naming the call, when the capture or the instantiation fails (the stream is usable after)
     */
    public static CudaGraph capture(CudaStream stream, Runnable work) {
        CudaContext context = stream.context();
        context.makeCurrent();
        Cuda.check(JCudaDriver.cuStreamBeginCapture(stream.handle(), CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_THREAD_LOCAL),
                "cuStreamBeginCapture on " + context.where());
        CUgraph graph = new CUgraph();
        stream.capturing(true);
        try {
            work.run();
        } catch (RuntimeException | Error e) {
            if (JCudaDriver.cuStreamEndCapture(stream.handle(), graph) == CUresult.CUDA_SUCCESS) {
                JCudaDriver.cuGraphDestroy(graph);
            }
            throw e;
        } finally {
            stream.capturing(false);
        }
        Cuda.check(JCudaDriver.cuStreamEndCapture(stream.handle(), graph),
                "cuStreamEndCapture on " + context.where() + " (a call in the captured work cannot be captured)");
        try {
            CUgraphExec exec = new CUgraphExec();
            Cuda.check(JCudaDriver.cuGraphInstantiate(exec, graph, 0), "cuGraphInstantiate on " + context.where());
            return new CudaGraph(context, exec);
        } finally {
            JCudaDriver.cuGraphDestroy(graph);
        }
    }

    /** Enqueues the captured work on {@code stream}. */
    public void launch(CudaStream stream) {
        if (closed.get()) {
            throw new IllegalStateException("the CUDA graph is closed");
        }
        context.makeCurrent();
        int r = JCudaDriver.cuGraphLaunch(exec, stream.handle());
        if (r != CUresult.CUDA_SUCCESS) {
            throw Cuda.failure(r, "cuGraphLaunch on " + context.where());
        }
    }

    /** Frees the instantiated graph (a launch already queued still completes); idempotent. */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true) && !context.isClosed()) {
            context.makeCurrent();
            Cuda.check(JCudaDriver.cuGraphExecDestroy(exec), "cuGraphExecDestroy on " + context.where());
        }
    }
}

package io.tierkv.cuda.check;

import io.tierkv.cuda.driver.CudaContext;
import io.tierkv.cuda.driver.CudaEvent;
import io.tierkv.cuda.driver.CudaStream;

/** Times enqueued GPU work with a pair of events, the one way every benchmark of the GPU check measures. */
final class EventTimer {
    private EventTimer() {
    }

    /** Warm-up calls at least: enough for the JIT to compile the launch path (C1 compiles after about 1,500 calls). */
    static final int MIN_WARMUP_CALLS = 2000;
    /** ... unless the warm-up has already taken this long (long calls warm up the GPU, not the JIT). */
    static final long MAX_WARMUP_NANOS = 300_000_000L;

    /**
     * Microseconds per call of {@code call}: a warm-up of at least a tenth of {@code iterations} calls and of
     * {@link #MIN_WARMUP_CALLS} or {@link #MAX_WARMUP_NANOS}, whichever comes first (an interpreted launch path costs
     * microseconds per launch on the host, which would time the JVM instead of the kernel), then {@code iterations}
     * calls enqueued on {@code stream} between two events.
     */
    static double microsPerCall(CudaContext context, CudaStream stream, int iterations, Runnable call) {
        long warmupStart = System.nanoTime();
        for (int i = 0; i < Math.max(1, iterations / 10) || (i < MIN_WARMUP_CALLS && System.nanoTime() - warmupStart < MAX_WARMUP_NANOS); i++) {
            call.run();
        }
        stream.synchronize();
        try (CudaEvent start = new CudaEvent(context); CudaEvent stop = new CudaEvent(context)) {
            start.record(stream);
            for (int i = 0; i < iterations; i++) {
                call.run();
            }
            stop.record(stream);
            stop.synchronize();
            return stop.elapsedMillisSince(start) * 1000.0 / iterations;
        }
    }
}

package io.tierkv.cuda.check;

import io.tierkv.cuda.driver.CudaContext;
import io.tierkv.cuda.driver.CudaEvent;
import io.tierkv.cuda.driver.CudaStream;

/** Times enqueued GPU work with a pair of events, the one way every benchmark of the GPU check measures. */
final class EventTimer {
    private EventTimer() {
    }

    /**
     * Microseconds per call of {@code call}: a warm-up of a tenth of {@code iterations}, then {@code iterations}
     * calls enqueued on {@code stream} between two events.
     */
    static double microsPerCall(CudaContext context, CudaStream stream, int iterations, Runnable call) {
        for (int i = 0; i < Math.max(1, iterations / 10); i++) {
            call.run();
        }
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

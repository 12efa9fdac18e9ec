package io.tierkv.cuda.driver;

import java.util.Objects;

/**
 * Guards one reusable buffer (pinned staging, device indices, kernel scratch) against being overwritten
 * while queued work may still read it. After the work that uses the buffer is enqueued, {@link #afterUse}
 * records an event on that stream. Before the next use:
 * <ul>
 *   <li>{@link #beforeHostWrite()}: the host waits for the event (the CPU is about to write pinned memory);</li>
 *   <li>{@link #beforeDeviceUse(Object)}: when the next use is on a different stream, that stream waits for
 *       the event (no host wait); on the same stream, stream order suffices and nothing is enqueued.</li>
 * </ul>
 * The bookkeeping is separate from the driver ({@link Events}) so that it is tested without a GPU.
 * Not thread-safe, like the objects that own the buffers.
 *
 * @param <S> the stream type ({@link CudaStream} in production)
 */
public final class ReuseFence<S> implements AutoCloseable {
    /** The driver operations a fence needs. */
    public interface Events<S> {
        /** Records the fence's event on {@code stream}. */
        void record(S stream);

        /** Makes later work on {@code stream} wait for the recorded event. */
        void streamWait(S stream);

        /** Blocks the calling thread until the recorded event completed. */
        void hostWait();

        /** Frees the event. */
        void close();
    }

    private final Events<S> events;
    private S last;

    /** A fence over {@code events}. */
    public ReuseFence(Events<S> events) {
        this.events = Objects.requireNonNull(events, "events");
    }

    /** A fence backed by one {@link CudaEvent} (timing disabled) of {@code context}. */
    public static ReuseFence<CudaStream> create(CudaContext context) {
        CudaEvent event = new CudaEvent(context, false);
        return new ReuseFence<>(new Events<>() {
            @Override
            public void record(CudaStream stream) {
                if (!stream.isCapturing()) { // an event recorded in a capture may not be waited for outside it
                    event.record(stream);
                }
            }

            @Override
            public void streamWait(CudaStream stream) {
                stream.waitFor(event);
            }

            @Override
            public void hostWait() {
                event.synchronize();
            }

            @Override
            public void close() {
                event.close();
            }
        });
    }

    /** Before the host writes the buffer: waits for the last recorded use, if any. */
    public void beforeHostWrite() {
        if (last != null) {
            events.hostWait();
        }
    }

    /** Before work on {@code stream} writes or reads the buffer: orders it after the last use on another stream. */
    public void beforeDeviceUse(S stream) {
        Objects.requireNonNull(stream, "stream");
        if (last != null && !last.equals(stream)) {
            events.streamWait(stream);
        }
    }

    /** After the work that uses the buffer was enqueued on {@code stream}: records the event there. */
    public void afterUse(S stream) {
        Objects.requireNonNull(stream, "stream");
        events.record(stream);
        last = stream;
    }

    /** The stream of the last recorded use, or null. */
    public S lastStream() {
        return last;
    }

    /** Frees the event; idempotent through the event itself. */
    @Override
    public void close() {
        events.close();
    }
}

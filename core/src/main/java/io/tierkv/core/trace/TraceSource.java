package io.tierkv.core.trace;

import java.io.IOException;

/**
 * Something that yields a trace step by step: a file ({@link TraceReader}) or a generator
 * ({@link SyntheticTrace}). Single use: open a new one to replay again.
 */
public interface TraceSource extends AutoCloseable {

    /** The trace's header; {@link TraceHeader#steps()} is known. */
    TraceHeader header();

    /**
     * Fills {@code step} with the next generated token's positions and returns true, or returns false
     * after the last step.
     *
     * @throws TraceFormatException if the trace is truncated or corrupt
     */
    boolean next(TraceStep step) throws IOException;

    @Override
    void close() throws IOException;
}

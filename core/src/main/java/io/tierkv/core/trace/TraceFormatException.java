package io.tierkv.core.trace;

import java.io.IOException;

/** A trace that is truncated or corrupt, with the byte offset where reading went wrong. */
public final class TraceFormatException extends IOException {
    private static final long serialVersionUID = 1L;

    private final String trace;
    private final long offset;

    public TraceFormatException(String trace, long offset, String detail) {
        super("trace " + trace + ": byte offset " + offset + ": " + detail);
        this.trace = trace;
        this.offset = offset;
    }

    /** The trace's name (its file). */
    public String trace() {
        return trace;
    }

    /** Where in the file the problem starts. */
    public long offset() {
        return offset;
    }
}

package io.tierkv.model.cuda;

import java.nio.ByteBuffer;

/**
 * A host staging copy of a device buffer that goes up only where it changed: writes that differ from the staged value
 * widen one span, and {@link #upload} copies that span (nothing when nothing changed). The first upload copies it all,
 * the device's copy being undefined until then. Per token a tiered step restages its tables and digest indexes whole,
 * but most of their values stay as they were. Not thread-safe.
 */
final class StagedUpload {
    private final StepDevice device;
    private final long address;        // the device copy
    private final ByteBuffer staging;  // the host copy, the same size
    private int from;                  // staging's bytes [from, to) differ from the device's copy
    private int to;

    StagedUpload(StepDevice device, long address, ByteBuffer staging) {
        this.device = device;
        this.address = address;
        this.staging = staging;
        this.from = 0;
        this.to = staging.capacity();
    }

    /** Stages {@code value} at byte {@code at}; a change only when it differs. */
    void putInt(int at, int value) {
        if (staging.getInt(at) != value) {
            staging.putInt(at, value);
            changed(at, 4);
        }
    }

    /** Stages {@code value} at byte {@code at}; a change only when it differs. */
    void putByte(int at, byte value) {
        if (staging.get(at) != value) {
            staging.put(at, value);
            changed(at, 1);
        }
    }

    /** The staged bytes {@code [at, at + bytes)} were written directly. */
    void changed(int at, int bytes) {
        from = Math.min(from, at);
        to = Math.max(to, at + bytes);
    }

    /** Copies the changed span to the device (nothing when nothing changed). */
    void upload() {
        if (to <= from) {
            return;
        }
        ByteBuffer span = staging.duplicate();
        span.limit(to).position(from);
        device.upload(address + from, span);
        from = staging.capacity();
        to = 0;
    }
}

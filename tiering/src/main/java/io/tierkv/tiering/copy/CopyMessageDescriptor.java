package io.tierkv.tiering.copy;

import org.agrona.concurrent.ringbuffer.RecordDescriptor;

/**
 * The messages of the CPU copy engine's two rings (Agrona {@code OneToOneRingBuffer}s): requests from the
 * owner to the copy thread, completions back. Both are primitive records; the message type says which.
 *
 * <pre>
 *  request (type REQUEST), 16 bytes            completion (type COPIED or FAILED), 24 bytes
 *  0         4         8         12        16  0         4         8         12        16                  24
 *  +---------+---------+---------+---------+   +---------+---------+---------+---------+-------------------+
 *  |direction| src slot| dst slot|  slots  |   |direction| src slot| dst slot|  slots  | copy nanos (long) |
 *  +---------+---------+---------+---------+   +---------+---------+---------+---------+-------------------+
 * </pre>
 *
 * Each record also carries the ring's own 8-byte header and is padded to 8 bytes, so a request takes 24
 * bytes of ring and a completion 32.
 */
final class CopyMessageDescriptor {
    static final int REQUEST = 1;
    static final int COPIED = 2;
    static final int FAILED = 3;

    static final int DIRECTION_OFFSET = 0;
    static final int SRC_SLOT_OFFSET = 4;
    static final int DST_SLOT_OFFSET = 8;
    static final int SLOTS_OFFSET = 12;
    static final int NANOS_OFFSET = 16;

    static final int REQUEST_LENGTH = 16;
    static final int COMPLETION_LENGTH = 24;

    private CopyMessageDescriptor() {
    }

    /** Ring bytes one record of {@code length} payload bytes takes: header plus payload, aligned. */
    static int recordBytes(int length) {
        int raw = RecordDescriptor.HEADER_LENGTH + length;
        return (raw + RecordDescriptor.ALIGNMENT - 1) & -RecordDescriptor.ALIGNMENT;
    }

    /** A power-of-two ring capacity that holds {@code messages} records of {@code length} bytes with room to spare. */
    static int ringCapacity(int messages, int length) {
        long need = 2L * messages * recordBytes(length);
        int capacity = 1024;
        while (capacity < need) {
            capacity <<= 1;
        }
        return capacity;
    }
}

package io.tierkv.model.cuda;

/**
 * Where the next small upload is staged in a ring of pinned memory: each upload gets a range of its own, 16-byte aligned,
 * so that the host returns as soon as the copy is queued (the GPU reads the range later, in stream order). When the ring
 * is used up the next range starts again at 0 and {@link #mustWait} says so: the caller then waits for every copy queued
 * before (a stream synchronise), the only wait left. Uploads larger than the ring are not staged here.
 */
final class UploadRing {
    private final long capacity;
    private long next;
    private long wraps;
    private boolean wrapped;

    UploadRing(long capacity) {
        if (capacity < 16 || capacity % 16 != 0) {
            throw new IllegalArgumentException("the ring's capacity must be a positive multiple of 16 bytes, was " + capacity);
        }
        this.capacity = capacity;
    }

    /** The offset of a fresh range of {@code bytes}, or -1 when they do not fit the ring at all. */
    long reserve(long bytes) {
        if (bytes < 0) {
            throw new IllegalArgumentException("bytes must be >= 0, was " + bytes);
        }
        wrapped = false;
        if (bytes > capacity) {
            return -1;
        }
        long at = (next + 15) & ~15L;
        if (at + bytes > capacity) {
            at = 0;
            wraps++;
            wrapped = true;
        }
        next = at + bytes;
        return at;
    }

    /** Whether the last {@link #reserve} started again at 0: every copy from an earlier range must finish before it is written. */
    boolean mustWait() {
        return wrapped;
    }

    /** Times the ring started again at 0. */
    long wraps() {
        return wraps;
    }
}

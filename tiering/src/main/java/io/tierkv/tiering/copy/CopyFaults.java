package io.tierkv.tiering.copy;

/**
 * Fault injection for the copy engine, for tests: a copy can be made to fail (its destination is left
 * half-written and the failure is reported) or to be slow (to widen race windows). The CPU engine asks on
 * its copy thread just before copying; the CUDA engine asks when it submits. Implementations must be
 * thread-safe. {@link #NONE} injects nothing.
 */
public interface CopyFaults {
    /** No faults. */
    CopyFaults NONE = new CopyFaults() {
    };

    /** True to make this copy fail. */
    default boolean fail(CopyDirection direction, int srcSlot, int dstSlot, int slots) {
        return false;
    }

    /** Extra nanoseconds to sleep before this copy (CPU engine only). */
    default long delayNanos(CopyDirection direction, int srcSlot, int dstSlot, int slots) {
        return 0;
    }
}

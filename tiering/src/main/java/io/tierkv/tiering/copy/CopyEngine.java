package io.tierkv.tiering.copy;

/**
 * Asynchronous block copies between the two arenas of one tier manager. The owner thread stages block
 * copies ({@link #stage}), submits them ({@link #flush}: contiguous runs become one copy each), and later
 * collects them ({@link #reapThrough}), which the engine hands to the {@link CopySink} it was built with.
 * Copies run on their own thread (CPU) or streams (CUDA); nothing about a copy is visible to the owner
 * until it is reaped, and runs are reaped in the order they were submitted, up to a point the owner names,
 * never as they happen to finish: so what has moved depends only on the owner's calls.
 *
 * <p>Ordering rules the caller keeps: a source slot is not written while its copy is in flight, a
 * destination slot is not read or reused until its copy is reaped. Copies in one direction complete in
 * submission order; the two directions are independent.
 *
 * <p>All methods are for the owner thread only.
 */
public interface CopyEngine extends AutoCloseable {

    /** Stages a copy of one slot; nothing moves until {@link #flush()}. */
    void stage(CopyDirection direction, int srcSlot, int dstSlot);

    /**
     * Submits everything staged, coalescing runs of consecutive source and destination slots into one copy
     * (up to the engine's run limit). May wait for, and reap, earlier copies when too many are in flight.
     *
     * @return copies (runs) submitted
     */
    int flush();

    /**
     * Waits until the oldest in-flight copy has finished and reaps it, and no later one; returns at once when none
     * is in flight. Returns the nanoseconds spent waiting.
     */
    long awaitSome();

    /** Runs (coalesced copies) submitted since the engine started: a mark for {@link #reapThrough}. */
    long submittedRuns();

    /**
     * Waits until the first {@code mark} runs ever submitted have finished and reaps those not reaped yet, in
     * submission order, and no later one: which blocks have moved then depends only on the owner's calls, never on
     * how fast the copies ran, so a run is reproducible. Returns the nanoseconds spent waiting.
     */
    long reapThrough(long mark);

    /** Flushes, then waits for and reaps every copy; returns the nanoseconds spent waiting. */
    default long drain() {
        flush();
        long waited = 0;
        while (inFlightCopies() > 0) {
            waited += awaitSome();
        }
        return waited;
    }

    /** Copies submitted and not yet reaped. */
    int inFlightCopies();

    /** Block copies staged and not yet submitted. */
    int stagedBlocks();

    /** Traffic so far. */
    CopyStats stats();

    /**
     * The error that stopped this engine's copies (its copy thread died), or null while it works. Once set, every
     * later call but {@link #close()} throws an {@link IllegalStateException} whose cause is this error, and
     * {@code close()} releases everything without waiting for the copies that will never finish and without
     * throwing it again.
     */
    default Throwable failure() {
        return null;
    }

    /** Short description, e.g. {@code cpu-thread} or {@code cuda-streams}. */
    String name();

    /** Drains in-flight copies (delivering them to the sink), then releases threads, streams and buffers; idempotent. */
    @Override
    void close();
}

package io.tierkv.tiering.copy;

/**
 * What both copy engines share: staging with slot checks into one {@link CopyBatch} per direction, the
 * counters behind {@link #stats()}, and the close order (drain, then release, once). Subclasses say how a
 * run is submitted, reaped and waited for.
 */
abstract class AbstractCopyEngine implements CopyEngine {
    private final int deviceSlots;
    private final int hostSlots;
    private final CopyBatch toHost;
    private final CopyBatch toDevice;
    private final CopyBatch.RunConsumer submitRun = this::submitRun;
    final CopyCounters counters;
    private boolean closed;

    AbstractCopyEngine(long slotBytes, int deviceSlots, int hostSlots, int maxRunSlots) {
        this.deviceSlots = deviceSlots;
        this.hostSlots = hostSlots;
        this.toHost = new CopyBatch(CopyDirection.DEVICE_TO_HOST, maxRunSlots);
        this.toDevice = new CopyBatch(CopyDirection.HOST_TO_DEVICE, maxRunSlots);
        this.counters = new CopyCounters(slotBytes);
    }

    @Override
    public void stage(CopyDirection direction, int srcSlot, int dstSlot) {
        checkOpen();
        boolean d2h = direction == CopyDirection.DEVICE_TO_HOST;
        checkSlot("source", srcSlot, d2h ? deviceSlots : hostSlots);
        checkSlot("destination", dstSlot, d2h ? hostSlots : deviceSlots);
        (d2h ? toHost : toDevice).add(srcSlot, dstSlot);
    }

    private static void checkSlot(String what, int slot, int capacity) {
        if (slot < 0 || slot >= capacity) {
            throw new IllegalArgumentException(what + " slot " + slot + " outside [0, " + capacity + ")");
        }
    }

    @Override
    public int flush() {
        checkOpen();
        return toHost.drainRuns(submitRun) + toDevice.drainRuns(submitRun);
    }

    /** Starts one coalesced copy; may first wait for earlier ones when too many are in flight. */
    abstract void submitRun(CopyDirection direction, int srcSlot, int dstSlot, int slots);

    @Override
    public int stagedBlocks() {
        return toHost.size() + toDevice.size();
    }

    @Override
    public CopyStats stats() {
        return counters.snapshot();
    }

    /** Drains unless {@link #canDrain()} says the copies can never finish, then releases; idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        try {
            if (canDrain()) {
                drain();
            }
        } finally {
            closed = true;
            release();
        }
    }

    /** False when waiting for in-flight copies would never end, e.g. once the copy thread has failed. */
    boolean canDrain() {
        return true;
    }

    /** Releases the engine's threads, streams and buffers; called once, by {@link #close()}. */
    abstract void release();

    boolean isClosed() {
        return closed;
    }

    void checkOpen() {
        if (closed) {
            throw new IllegalStateException("copy engine is closed");
        }
    }
}

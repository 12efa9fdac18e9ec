package io.tierkv.tiering.copy;

import io.tierkv.cuda.driver.CudaContext;
import io.tierkv.cuda.driver.CudaCopies;
import io.tierkv.cuda.driver.CudaEvent;
import io.tierkv.cuda.driver.CudaException;
import io.tierkv.cuda.driver.CudaStream;
import io.tierkv.cuda.driver.DeviceBuffer;
import io.tierkv.cuda.driver.PinnedBuffer;

/**
 * The CUDA copy engine: {@code cuMemcpyDtoHAsync} and {@code cuMemcpyHtoDAsync} on two dedicated
 * non-blocking streams (one per direction, so demotions and promotions overlap each other and compute), one
 * coalesced run per driver call, and an event recorded after each run. A run is reaped once its event has
 * completed; events of one stream complete in order, so each direction is a FIFO of pending runs.
 *
 * <p>Events and the pending FIFOs are allocated once ({@code maxInFlight} per direction, two timing events
 * each: start and end); a flush allocates only the pointer objects JCuda needs per call. A driver error on a
 * copy, or an injected fault (which copies half the run and stops), is reported as a failed run: the
 * source stays where it was. The driver calls make the context current themselves, so any owner thread may
 * drive the engine.
 */
public final class CudaCopyEngine extends AbstractCopyEngine {
    private static final System.Logger LOG = System.getLogger(CudaCopyEngine.class.getName());

    private final CudaContext context;
    private final DeviceBuffer device;
    private final PinnedBuffer host;
    private final long slotBytes;
    private final CopySink sink;
    private final CopyFaults faults;
    private final int maxInFlight;
    /** [direction] the stream of that direction. */
    private final CudaStream[] streams = new CudaStream[2];
    /** [direction][maxInFlight] events recorded before and after each pending run. */
    private final CudaEvent[][] startEvents = new CudaEvent[2][];
    private final CudaEvent[][] endEvents = new CudaEvent[2][];
    /** [direction][maxInFlight] pending runs, a ring from head[d] of count[d] entries. */
    private final int[][] pendingSrc = new int[2][];
    private final int[][] pendingDst = new int[2][];
    private final int[][] pendingSlots = new int[2][];
    private final boolean[][] pendingOk = new boolean[2][];
    private final long[][] pendingTicket = new long[2][];
    private final int[] head = new int[2];
    private final int[] count = new int[2];
    private long tickets;
    private boolean loggedFailure;

    public CudaCopyEngine(CudaContext context, DeviceBuffer device, PinnedBuffer host, long slotBytes, CopySink sink,
                          CopyFaults faults, int maxInFlight, int maxRunSlots) {
        super(checkedSlotBytes(device, host, slotBytes, maxInFlight), (int) (device.bytes() / slotBytes),
                (int) (host.bytes() / slotBytes), maxRunSlots);
        this.context = context;
        this.device = device;
        this.host = host;
        this.slotBytes = slotBytes;
        this.sink = sink;
        this.faults = faults == null ? CopyFaults.NONE : faults;
        this.maxInFlight = maxInFlight;
        try {
            for (int d = 0; d < 2; d++) {
                streams[d] = new CudaStream(context);
                startEvents[d] = new CudaEvent[maxInFlight];
                endEvents[d] = new CudaEvent[maxInFlight];
                for (int i = 0; i < maxInFlight; i++) {
                    startEvents[d][i] = new CudaEvent(context);
                    endEvents[d][i] = new CudaEvent(context);
                }
                pendingSrc[d] = new int[maxInFlight];
                pendingDst[d] = new int[maxInFlight];
                pendingSlots[d] = new int[maxInFlight];
                pendingOk[d] = new boolean[maxInFlight];
                pendingTicket[d] = new long[maxInFlight];
            }
        } catch (RuntimeException e) {
            release();
            throw e;
        }
    }

    /** The arguments checked before anything is built; returns {@code slotBytes}. */
    private static long checkedSlotBytes(DeviceBuffer device, PinnedBuffer host, long slotBytes, int maxInFlight) {
        if (maxInFlight <= 0) {
            throw new IllegalArgumentException("maxInFlight must be > 0, was " + maxInFlight);
        }
        if (slotBytes <= 0 || device.bytes() % slotBytes != 0 || host.bytes() % slotBytes != 0) {
            throw new IllegalArgumentException("slotBytes " + slotBytes + " must divide the device (" + device.bytes()
                    + ") and pinned (" + host.bytes() + ") buffers");
        }
        return slotBytes;
    }

    @Override
    void submitRun(CopyDirection direction, int src, int dst, int slots) {
        int d = direction.code();
        while (count[d] == maxInFlight) {
            // This direction is full: land its oldest run, and every run submitted before it, in order.
            reapThrough(pendingTicket[d][head[d]] + 1);
        }
        int i = (head[d] + count[d]) % maxInFlight;
        CudaStream stream = streams[d];
        boolean fail = faults.fail(direction, src, dst, slots);
        long bytes = slots * slotBytes;
        boolean ok = true;
        try {
            startEvents[d][i].record(stream);
            copy(direction, src, dst, fail ? bytes / 2 : bytes, stream);
        } catch (CudaException e) {
            ok = false;
            logOnce(e);
        }
        try { // after a sticky fault this fails too: the run is still queued, as failed, so that its blocks stay where they were
            endEvents[d][i].record(stream);
        } catch (CudaException e) {
            ok = false;
            logOnce(e);
            try { // its event holds an older record: reaping it as failed frees the destination, which the copy may still write
                stream.synchronize();
            } catch (CudaException ignored) {
                // a sticky fault: the copy never ran
            }
        }
        pendingSrc[d][i] = src;
        pendingDst[d][i] = dst;
        pendingSlots[d][i] = slots;
        pendingOk[d][i] = ok && !fail;
        pendingTicket[d][i] = tickets++;
        count[d]++;
    }

    private void copy(CopyDirection direction, int src, int dst, long bytes, CudaStream stream) {
        if (bytes == 0) {
            return;
        }
        if (direction == CopyDirection.DEVICE_TO_HOST) {
            CudaCopies.deviceToHostAsync(host, dst * slotBytes, device, src * slotBytes, bytes, stream);
        } else {
            CudaCopies.hostToDeviceAsync(device, dst * slotBytes, host, src * slotBytes, bytes, stream);
        }
    }

    private void logOnce(CudaException e) {
        if (!loggedFailure) {
            loggedFailure = true;
            LOG.log(System.Logger.Level.WARNING, "CUDA copy failed; the block stays in its source tier: " + e.getMessage());
        }
    }

    /** Hands the oldest run of direction {@code d}, finished, to the sink. */
    private void reapHead(int d, boolean ok) {
        int i = head[d];
        long nanos = ok ? elapsedNanos(d, i) : 0;
        head[d] = (i + 1) % maxInFlight;
        count[d]--;
        CopyDirection direction = CopyDirection.of(d);
        counters.record(direction, pendingSlots[d][i], ok, nanos);
        sink.copied(direction, pendingSrc[d][i], pendingDst[d][i], pendingSlots[d][i], ok);
    }

    private long elapsedNanos(int d, int i) {
        try {
            return (long) (endEvents[d][i].elapsedMillisSince(startEvents[d][i]) * 1e6);
        } catch (CudaException e) {
            return 0;
        }
    }

    @Override
    public long awaitSome() {
        int d = oldest();
        return d < 0 ? 0 : reapThrough(pendingTicket[d][head[d]] + 1);
    }

    @Override
    public long submittedRuns() {
        return tickets;
    }

    /** Waits for and reaps runs in ticket order (both streams merged) while their ticket is below {@code mark}. */
    @Override
    public long reapThrough(long mark) {
        long start = System.nanoTime();
        for (int d = oldest(); d >= 0 && pendingTicket[d][head[d]] < mark; d = oldest()) {
            boolean ok = pendingOk[d][head[d]];
            try {
                endEvents[d][head[d]].synchronize();
            } catch (CudaException e) {
                ok = false;
                logOnce(e);
            }
            reapHead(d, ok);
        }
        return System.nanoTime() - start;
    }

    /** The direction whose oldest run was submitted first, or -1 when none is in flight. */
    private int oldest() {
        if (isClosed() || inFlightCopies() == 0) {
            return -1;
        }
        if (count[0] == 0) {
            return 1;
        }
        if (count[1] == 0) {
            return 0;
        }
        return pendingTicket[0][head[0]] < pendingTicket[1][head[1]] ? 0 : 1;
    }

    @Override
    public int inFlightCopies() {
        return count[0] + count[1];
    }

    @Override
    public String name() {
        return "cuda-streams";
    }

    /** Destroys the events and streams; the buffers and the context belong to the caller. */
    @Override
    void release() {
        for (int d = 0; d < 2; d++) {
            closeAll(startEvents[d]);
            closeAll(endEvents[d]);
            if (streams[d] != null) {
                streams[d].close();
            }
        }
    }

    private static void closeAll(CudaEvent[] events) {
        if (events != null) {
            for (CudaEvent e : events) {
                if (e != null) {
                    e.close();
                }
            }
        }
    }

    /** The context the copies run in. */
    public CudaContext context() {
        return context;
    }
}

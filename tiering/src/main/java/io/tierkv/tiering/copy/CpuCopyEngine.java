package io.tierkv.tiering.copy;

import static io.tierkv.tiering.copy.CopyMessageDescriptor.*;

import io.tierkv.tiering.arena.OffHeapSlab;
import io.tierkv.tiering.arena.SlotArena;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.MessageHandler;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.ringbuffer.OneToOneRingBuffer;
import org.agrona.concurrent.ringbuffer.RingBufferDescriptor;

/**
 * The CPU mode's copy engine: one copy thread ({@link CopyAgent}) fed by a lock-free single-producer ring
 * of primitive copy requests; completions come back on a second ring and are reaped on the owner's thread.
 *
 * <p>Design: the owner coalesces staged block copies into runs ({@link CopyBatch}), writes one 16-byte
 * descriptor per run and unparks the copy thread, which may be parked by its back-off idle strategy. The
 * owner never lets more than {@code maxInFlight} runs be outstanding; both rings hold twice that many
 * records, so neither side ever finds its ring full. Trade-off: one thread copies, so a single engine
 * cannot beat one core's memcpy; with runs of megabytes it should not fall far below it (see
 * {@code tierkv bench copy}).
 *
 * <p>Happens-before: the copy thread's writes to a destination are published by the completion's commit
 * (an ordered store) and seen by the owner once it has read that completion, so a block whose residency
 * flips at reap is fully written.
 */
public final class CpuCopyEngine extends AbstractCopyEngine {
    private static final System.Logger LOG = System.getLogger(CpuCopyEngine.class.getName());
    private static final AtomicInteger THREADS = new AtomicInteger();
    /** How long the owner waits for a single completion before declaring the copy thread stuck. */
    private static final long STUCK_NANOS = TimeUnit.SECONDS.toNanos(60);
    /** Yields before the owner parks while waiting for a completion. */
    private static final int YIELDS_BEFORE_PARK = 4;
    /** Longest single park of a waiting owner (it is unparked by the copy thread; this is a safety net). */
    private static final long MAX_PARK_NANOS = 20_000_000;
    /** Ring storage alignment: two cache lines, so that the trailer's counters do not share lines with data. */
    private static final int RING_ALIGNMENT = 128;

    private final CopySink sink;
    private final int maxInFlight;
    private final MessageHandler onCompletion = this::onCompletion;
    /** Ring storage, owned and freed here: bytes of Agrona ring records plus the ring trailer. */
    private final OffHeapSlab requestStorage;
    private final OffHeapSlab completionStorage;
    private final OneToOneRingBuffer requests;
    private final OneToOneRingBuffer completions;
    private final AgentRunner runner;
    private final Thread copyThread;
    private final AtomicReference<Throwable> agentError = new AtomicReference<>();
    private final CopyAgent.WaitingOwner waitingOwner = new CopyAgent.WaitingOwner();
    /** Runs submitted since the copy thread was last woken. */
    private int unsignalled;
    private int inFlight;
    /** Runs submitted and reaped since the start. */
    private long submitted;
    private long reaped;

    /**
     * Starts a copy thread between two arenas of equal slot size.
     *
     * @param maxInFlight runs outstanding at most (the owner waits beyond that)
     * @param maxRunSlots slots one coalesced copy may span
     */
    public CpuCopyEngine(SlotArena device, SlotArena host, CopySink sink, CopyFaults faults, int maxInFlight, int maxRunSlots) {
        super(checkedSlotBytes(device, host, maxInFlight), device.capacity(), host.capacity(), maxRunSlots);
        this.sink = sink;
        this.maxInFlight = maxInFlight;
        this.requestStorage = ring(ringCapacity(maxInFlight, REQUEST_LENGTH));
        this.completionStorage = ring(ringCapacity(maxInFlight, COMPLETION_LENGTH));
        this.requests = new OneToOneRingBuffer(new UnsafeBuffer(requestStorage.address(), (int) requestStorage.bytes()));
        this.completions = new OneToOneRingBuffer(new UnsafeBuffer(completionStorage.address(), (int) completionStorage.bytes()));
        CopyAgent agent = new CopyAgent(requests, completions, device.baseAddress(), device.capacity(),
                host.baseAddress(), host.capacity(), device.slotBytes(), faults == null ? CopyFaults.NONE : faults, waitingOwner);
        this.runner = new AgentRunner(new BackoffIdleStrategy(16, 8, 1_000, 1_000_000), this::onAgentError, null, agent);
        AgentRunner.startOnThread(runner, r -> {
            Thread t = new Thread(r, "tierkv-copy-" + THREADS.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        this.copyThread = runner.thread();
    }

    /** The arguments checked before anything is built; returns the common slot size. */
    private static long checkedSlotBytes(SlotArena device, SlotArena host, int maxInFlight) {
        if (device.slotBytes() != host.slotBytes()) {
            throw new IllegalArgumentException("device slots of " + device.slotBytes() + " bytes and host slots of "
                    + host.slotBytes() + " bytes differ");
        }
        if (maxInFlight <= 0) {
            throw new IllegalArgumentException("maxInFlight must be > 0, was " + maxInFlight);
        }
        return device.slotBytes();
    }

    private static OffHeapSlab ring(int capacity) {
        return new OffHeapSlab(capacity + RingBufferDescriptor.TRAILER_LENGTH, RING_ALIGNMENT);
    }

    private void onAgentError(Throwable t) {
        agentError.compareAndSet(null, t);
        LOG.log(System.Logger.Level.ERROR, "copy thread error", t);
    }

    @Override
    public Throwable failure() {
        return agentError.get();
    }

    /** After the copy thread failed, every call fails with its error: nothing staged now would ever be copied. */
    private void checkAlive() {
        Throwable error = agentError.get();
        if (error != null) {
            throw new IllegalStateException("copy thread failed: " + error, error);
        }
    }

    @Override
    public int flush() {
        checkAlive();
        int runs = super.flush();
        wakeCopyThread();
        return runs;
    }

    /** One unpark per batch, not per run: the copy thread drains the whole ring once awake. */
    private void wakeCopyThread() {
        if (unsignalled > 0) {
            unsignalled = 0;
            LockSupport.unpark(copyThread);
        }
    }

    @Override
    void submitRun(CopyDirection direction, int srcSlot, int dstSlot, int slots) {
        if (inFlight >= maxInFlight) {
            // Full: wait until half the window has drained, one wake-up for many completions.
            awaitCompletions(reaped + Math.max(1, inFlight - maxInFlight / 2));
        }
        int index;
        while ((index = requests.tryClaim(REQUEST, REQUEST_LENGTH)) < 0) {
            awaitSome();
        }
        MutableDirectBuffer buffer = requests.buffer();
        buffer.putInt(index + DIRECTION_OFFSET, direction.code());
        buffer.putInt(index + SRC_SLOT_OFFSET, srcSlot);
        buffer.putInt(index + DST_SLOT_OFFSET, dstSlot);
        buffer.putInt(index + SLOTS_OFFSET, slots);
        requests.commit(index);
        inFlight++;
        submitted++;
        unsignalled++;
    }

    private void onCompletion(int msgTypeId, MutableDirectBuffer buffer, int index, int length) {
        CopyDirection direction = CopyDirection.of(buffer.getInt(index + DIRECTION_OFFSET));
        int src = buffer.getInt(index + SRC_SLOT_OFFSET);
        int dst = buffer.getInt(index + DST_SLOT_OFFSET);
        int slots = buffer.getInt(index + SLOTS_OFFSET);
        boolean ok = msgTypeId == COPIED;
        counters.record(direction, slots, ok, buffer.getLong(index + NANOS_OFFSET));
        inFlight--;
        reaped++;
        sink.copied(direction, src, dst, slots, ok);
    }

    @Override
    public long awaitSome() {
        return awaitCompletions(reaped + 1);
    }

    @Override
    public long submittedRuns() {
        return submitted;
    }

    @Override
    public long reapThrough(long mark) {
        return mark <= reaped ? 0 : awaitCompletions(mark);
    }

    /** Reaps finished copies up to the {@code target}-th run ever submitted, in order (one copy thread: one order). */
    private void reapUpTo(long target) {
        if (isClosed() || inFlight == 0 || target <= reaped) {
            return;
        }
        completions.read(onCompletion, (int) Math.min(Integer.MAX_VALUE, target - reaped));
    }

    /** Flushes and waits for every copy with a single wake-up, then reaps them all. */
    @Override
    public long drain() {
        flush();
        return awaitCompletions(submitted);
    }

    /**
     * Waits until {@code target} completions in total have been reaped (or none is in flight), and reaps no more than
     * that, without polling:
     * after a few yields the owner parks, publishing itself and the target in {@link CopyAgent.WaitingOwner},
     * and the copy thread unparks it once that many completions are posted. The park is bounded anyway, as a
     * second line of defence against a lost wake-up.
     */
    private long awaitCompletions(long target) {
        checkAlive();
        long start = System.nanoTime();
        wakeCopyThread();
        reapUpTo(target);
        for (int round = 0; reaped < Math.min(target, submitted); round++) {
            Throwable error = agentError.get();
            if (error != null) {
                throw new IllegalStateException("copy thread failed: " + error, error);
            }
            if (System.nanoTime() - start > STUCK_NANOS) {
                throw new IllegalStateException("copy thread made no progress for 60 s with " + inFlight + " copies in flight");
            }
            if (round < YIELDS_BEFORE_PARK) {
                Thread.yield();
            } else {
                waitingOwner.wakeAt = Math.min(target, submitted);
                waitingOwner.thread = Thread.currentThread();
                if (waitingOwner.posted < waitingOwner.wakeAt) {
                    LockSupport.parkNanos(MAX_PARK_NANOS);
                }
                waitingOwner.thread = null;
            }
            reapUpTo(target);
        }
        return System.nanoTime() - start;
    }

    @Override
    public int inFlightCopies() {
        return inFlight;
    }

    @Override
    public String name() {
        return "cpu-thread";
    }

    /** A failed copy thread will post no more completions: close without waiting for them. */
    @Override
    boolean canDrain() {
        return agentError.get() == null;
    }

    @Override
    void release() {
        runner.close();
        requestStorage.close();
        completionStorage.close();
    }
}

package io.tierkv.tiering.copy;

import static io.tierkv.tiering.copy.CopyMessageDescriptor.*;

import java.lang.invoke.VarHandle;
import java.util.concurrent.locks.LockSupport;
import org.agrona.MutableDirectBuffer;
import org.agrona.UnsafeApi;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.MessageHandler;
import org.agrona.concurrent.ringbuffer.OneToOneRingBuffer;

/**
 * The CPU engine's copy thread, as an Agrona agent: each {@link #doWork()} reads queued copy requests, copies
 * the bytes with {@code Unsafe.copyMemory} (the JVM's memcpy) and posts one completion per request. It
 * allocates nothing. A request whose slots fall outside the arenas, or that the fault injector fails, is
 * answered FAILED; a failed copy may leave its destination half-written, never its source.
 */
final class CopyAgent implements Agent, MessageHandler {
    /** Requests handled per duty cycle before the agent returns to its runner. */
    private static final int REQUESTS_PER_CYCLE = 64;
    /**
     * Copies are split into chunks of this many bytes: {@code copyMemory} runs inside the VM and would
     * otherwise hold off a safepoint for a whole 100 MB run; 8 MiB costs nothing measurable.
     */
    private static final long CHUNK_BYTES = 8L << 20;

    private final OneToOneRingBuffer requests;
    private final OneToOneRingBuffer completions;
    private final long deviceBase;
    private final long hostBase;
    private final long slotBytes;
    private final int deviceSlots;
    private final int hostSlots;
    private final CopyFaults faults;
    /** The owner thread while it waits for completions, else null. */
    private final WaitingOwner owner;
    /** Completions posted so far. */
    private long posted;

    CopyAgent(OneToOneRingBuffer requests, OneToOneRingBuffer completions, long deviceBase, int deviceSlots,
              long hostBase, int hostSlots, long slotBytes, CopyFaults faults, WaitingOwner owner) {
        this.requests = requests;
        this.completions = completions;
        this.deviceBase = deviceBase;
        this.deviceSlots = deviceSlots;
        this.hostBase = hostBase;
        this.hostSlots = hostSlots;
        this.slotBytes = slotBytes;
        this.faults = faults;
        this.owner = owner;
    }

    @Override
    public int doWork() {
        return requests.read(this, REQUESTS_PER_CYCLE);
    }

    @Override
    public void onMessage(int msgTypeId, MutableDirectBuffer buffer, int index, int length) {
        int direction = buffer.getInt(index + DIRECTION_OFFSET);
        int src = buffer.getInt(index + SRC_SLOT_OFFSET);
        int dst = buffer.getInt(index + DST_SLOT_OFFSET);
        int slots = buffer.getInt(index + SLOTS_OFFSET);
        long start = System.nanoTime();
        boolean ok = msgTypeId == REQUEST && copy(direction, src, dst, slots);
        long nanos = System.nanoTime() - start;
        complete(ok ? COPIED : FAILED, direction, src, dst, slots, nanos);
    }

    private boolean copy(int directionCode, int src, int dst, int slots) {
        if (directionCode < 0 || directionCode > 1) {
            return false;
        }
        boolean toHost = directionCode == CopyDirection.DEVICE_TO_HOST.code();
        if (!inRange(src, slots, toHost ? deviceSlots : hostSlots) || !inRange(dst, slots, toHost ? hostSlots : deviceSlots)) {
            return false;
        }
        long srcAddress = (toHost ? deviceBase : hostBase) + src * slotBytes;
        long dstAddress = (toHost ? hostBase : deviceBase) + dst * slotBytes;
        long bytes = slots * slotBytes;
        CopyDirection direction = CopyDirection.of(directionCode);
        long delay = faults.delayNanos(direction, src, dst, slots);
        if (delay > 0) {
            LockSupport.parkNanos(delay);
        }
        if (faults.fail(direction, src, dst, slots)) {
            copyMemory(srcAddress, dstAddress, bytes / 2);
            return false;
        }
        copyMemory(srcAddress, dstAddress, bytes);
        return true;
    }

    private static boolean inRange(int first, int slots, int capacity) {
        return slots > 0 && first >= 0 && first <= capacity - slots;
    }

    private static void copyMemory(long src, long dst, long bytes) {
        for (long done = 0; done < bytes; done += CHUNK_BYTES) {
            UnsafeApi.copyMemory(src + done, dst + done, Math.min(CHUNK_BYTES, bytes - done));
        }
    }

    private void complete(int type, int direction, int src, int dst, int slots, long nanos) {
        int index;
        // The owner caps copies in flight below the ring's capacity, so this claim does not fail; if it
        // ever did, waiting is right: the owner frees room by reaping.
        while ((index = completions.tryClaim(type, COMPLETION_LENGTH)) < 0) {
            Thread.yield();
        }
        var buffer = completions.buffer();
        buffer.putInt(index + DIRECTION_OFFSET, direction);
        buffer.putInt(index + SRC_SLOT_OFFSET, src);
        buffer.putInt(index + DST_SLOT_OFFSET, dst);
        buffer.putInt(index + SLOTS_OFFSET, slots);
        buffer.putLong(index + NANOS_OFFSET, nanos);
        completions.commit(index);
        posted++;
        owner.posted = posted;
        // Dekker with CpuCopyEngine.awaitCompletions: the commit must be visible before we look for a waiter, or
        // a waiter that checked the ring just before the commit could sleep through it.
        VarHandle.fullFence();
        Thread waiter = owner.thread;
        if (waiter != null && posted >= owner.wakeAt) {
            LockSupport.unpark(waiter);
        }
    }

    /**
     * Where the owner thread waits: it publishes itself and how many completions in total it waits for, and
     * the copy thread unparks it once that many are posted. Waking it only then (not at every completion)
     * matters on a loaded machine, where each wake-up can cost the copy thread its place on a core.
     */
    static final class WaitingOwner {
        volatile Thread thread;
        /** Completions posted so far, written by the copy thread. */
        volatile long posted;
        /** Wake the owner once {@link #posted} reaches this. */
        volatile long wakeAt;
    }

    @Override
    public String roleName() {
        return "tierkv-copy";
    }
}

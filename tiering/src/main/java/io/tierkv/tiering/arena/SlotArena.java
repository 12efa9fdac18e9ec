package io.tierkv.tiering.arena;

import java.util.Arrays;

/**
 * One tier's slab carved into {@code capacity} slots of {@code slotBytes} bytes, handed out as int
 * handles (the slot index). Slot {@code s} starts at {@code address() + s * slotBytes}; slots are packed
 * back to back, so the whole slab is one dense array of blocks (see
 * {@link io.tierkv.tiering.BlockDescriptor}).
 *
 * <p>Free slots are kept on an intrusive doubly linked list over two {@code int[]}s, as in vLLM's
 * {@code FreeKVCacheBlockQueue}: taking the head, taking one given slot and returning a slot are all O(1)
 * and allocate nothing. At creation the list runs {@code 0, 1, ..., capacity-1}, so a fresh arena hands
 * out consecutive slots; a freed slot goes to the head (most recently freed is reused first, its lines may
 * still be cached). {@link #allocateNear} takes the slot after a given one when it is free, which keeps
 * the destinations of a batch of copies contiguous so that the copy engine can coalesce them.
 *
 * <p>Invariant (checked by {@link #checkInvariants()}): a slot is on the free list exactly when it is
 * not allocated; the list is acyclic, its links agree both ways, and {@code used() + free() == capacity()}.
 * Running out of slots is an answer ({@link #NO_SLOT}); misuse (double free, a slot out of range, any
 * use after {@link #close()}) is an exception. Not thread-safe: one owner thread.
 */
public final class SlotArena implements AutoCloseable {
    /** Returned by the allocation methods when no slot is free. */
    public static final int NO_SLOT = -1;
    private static final int END = -1;

    private final String name;
    private final Slab slab;
    private final long slotBytes;
    private final int capacity;
    /** (capacity) next free slot after each free slot, {@link #END} at the tail; unused for allocated slots. */
    private final int[] next;
    /** (capacity) previous free slot, {@link #END} at the head; unused for allocated slots. */
    private final int[] prev;
    /** (capacity) true while the slot is handed out. */
    private final boolean[] allocated;
    private int head = END;
    private int free;
    private boolean closed;

    /**
     * Takes ownership of {@code slab} and carves it into slots of {@code slotBytes} bytes.
     *
     * @throws IllegalArgumentException when the slab is not a positive whole number of slots
     */
    public SlotArena(String name, Slab slab, long slotBytes) {
        this.name = name;
        this.slab = slab;
        try {
            if (slotBytes <= 0) {
                throw new IllegalArgumentException("arena '" + name + "': slotBytes must be > 0, was " + slotBytes);
            }
            if (slab.bytes() % slotBytes != 0) {
                throw new IllegalArgumentException("arena '" + name + "': a slab of " + slab.bytes()
                        + " bytes is not a whole number of " + slotBytes + "-byte slots");
            }
            long slots = slab.bytes() / slotBytes;
            if (slots <= 0 || slots >= Integer.MAX_VALUE) {
                throw new IllegalArgumentException("arena '" + name + "': slot count must be in [1, " + (Integer.MAX_VALUE - 1)
                        + "], was " + slots);
            }
            this.slotBytes = slotBytes;
            this.capacity = (int) slots;
        } catch (RuntimeException e) {
            slab.close();
            throw e;
        }
        this.next = new int[capacity];
        this.prev = new int[capacity];
        this.allocated = new boolean[capacity];
        for (int s = 0; s < capacity; s++) {
            next[s] = s + 1 < capacity ? s + 1 : END;
            prev[s] = s - 1;
        }
        this.head = 0;
        this.free = capacity;
    }

    /** An arena of {@code capacity} slots on fresh aligned off-heap memory (the CPU mode). */
    public static SlotArena offHeap(String name, long slotBytes, int capacity, int alignment) {
        if (capacity <= 0) {
            throw new IllegalArgumentException("arena '" + name + "': capacity must be > 0 slots, was " + capacity);
        }
        if (slotBytes <= 0) {
            throw new IllegalArgumentException("arena '" + name + "': slotBytes must be > 0, was " + slotBytes);
        }
        return new SlotArena(name, new OffHeapSlab(Math.multiplyExact(slotBytes, (long) capacity), alignment), slotBytes);
    }

    /** Takes the slot at the head of the free list, or {@link #NO_SLOT} when none is free. */
    public int allocate() {
        checkOpen();
        if (head == END) {
            return NO_SLOT;
        }
        int s = head;
        unlink(s);
        return s;
    }

    /**
     * Takes {@code preferred} if it is in range and free, else the head of the free list; {@link #NO_SLOT}
     * when none is free. Callers pass "the slot after the one I took last" to build contiguous runs.
     */
    public int allocateNear(int preferred) {
        checkOpen();
        if (preferred >= 0 && preferred < capacity && !allocated[preferred]) {
            unlink(preferred);
            return preferred;
        }
        return allocate();
    }

    /** Takes exactly {@code slot}; false if it is already allocated. */
    public boolean allocateExactly(int slot) {
        checkOpen();
        checkSlot(slot, "allocateExactly");
        if (allocated[slot]) {
            return false;
        }
        unlink(slot);
        return true;
    }

    /** Returns a slot to the head of the free list. */
    public void free(int slot) {
        checkOpen();
        checkSlot(slot, "free");
        if (!allocated[slot]) {
            throw new IllegalStateException("arena '" + name + "': double free of slot " + slot);
        }
        allocated[slot] = false;
        prev[slot] = END;
        next[slot] = head;
        if (head != END) {
            prev[head] = slot;
        }
        head = slot;
        free++;
    }

    private void unlink(int s) {
        int p = prev[s];
        int n = next[s];
        if (p == END) {
            head = n;
        } else {
            next[p] = n;
        }
        if (n != END) {
            prev[n] = p;
        }
        allocated[s] = true;
        free--;
    }

    /** True while {@code slot} is handed out. */
    public boolean isAllocated(int slot) {
        checkOpen();
        checkSlot(slot, "isAllocated");
        return allocated[slot];
    }

    /** Address of the first byte of {@code slot} (host address, or device pointer on a device slab). */
    public long address(int slot) {
        checkOpen();
        checkSlot(slot, "address");
        return slab.address() + slot * slotBytes;
    }

    /** Base address of slot 0. */
    public long baseAddress() {
        checkOpen();
        return slab.address();
    }

    public String name() {
        return name;
    }

    public long slotBytes() {
        return slotBytes;
    }

    public int capacity() {
        return capacity;
    }

    /** Slots free now. */
    public int free() {
        return free;
    }

    /** Slots handed out now. */
    public int used() {
        return capacity - free;
    }

    /** The slab this arena carves (its slow synchronous reads and writes: tests, benchmarks, the remote tier's block copies). */
    public Slab slab() {
        checkOpen();
        return slab;
    }

    public boolean isClosed() {
        return closed;
    }

    /** The free list from head to tail (for tests and debugging; allocates). */
    public int[] freeList() {
        int[] out = new int[free];
        int i = 0;
        for (int s = head; s != END && i < out.length; s = next[s]) {
            out[i++] = s;
        }
        return i == out.length ? out : Arrays.copyOf(out, i);
    }

    /** Re-checks the free list against the allocation flags; throws {@link IllegalStateException} if broken. */
    public void checkInvariants() {
        checkOpen();
        int count = 0;
        int before = END;
        for (int s = head; s != END; s = next[s]) {
            if (s < 0 || s >= capacity) {
                throw new IllegalStateException("arena '" + name + "': free list links to slot " + s);
            }
            if (allocated[s]) {
                throw new IllegalStateException("arena '" + name + "': allocated slot " + s + " is on the free list");
            }
            if (prev[s] != before) {
                throw new IllegalStateException("arena '" + name + "': slot " + s + " links back to " + prev[s] + ", not " + before);
            }
            if (++count > capacity) {
                throw new IllegalStateException("arena '" + name + "': the free list has a cycle");
            }
            before = s;
        }
        int unallocated = 0;
        for (boolean a : allocated) {
            if (!a) {
                unallocated++;
            }
        }
        if (count != free || unallocated != free) {
            throw new IllegalStateException("arena '" + name + "': free count " + free + ", list length " + count
                    + ", unallocated slots " + unallocated);
        }
    }

    /** Frees the slab; idempotent. Slots still in use are the owner's leak to report ({@link #used()}). */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            slab.close();
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("arena '" + name + "' is closed");
        }
    }

    private void checkSlot(int slot, String what) {
        if (slot < 0 || slot >= capacity) {
            throw new IllegalArgumentException("arena '" + name + "': " + what + " of slot " + slot + ", outside [0, " + capacity + ")");
        }
    }

    @Override
    public String toString() {
        return "SlotArena[" + name + ", " + used() + "/" + capacity + " slots of " + slotBytes + " bytes" + (closed ? ", closed]" : "]");
    }
}

package io.tierkv.core.placement;

import java.util.Arrays;

/**
 * A binary min-heap of int ids in {@code [0, capacity)} with long keys and O(log n) update and removal
 * by id: the victim order of the simulator's clairvoyant policy (furthest next use) and of
 * {@link Placement} (least valuable). Ties on the key go to the smaller id. Primitive arrays only; nothing is allocated
 * after construction.
 */
public final class IndexedMinHeap {
    /** (slot) the id at each heap slot; slots {@code [0, size)} are used. */
    private int[] heap;
    /**
     * (slot) the key of the id at each slot: kept in heap order, not by id, so that a sift reads a parent's children from
     * one cache line instead of two ids' keys scattered over the id range.
     */
    private long[] keys;
    /** (id) the id's heap slot, or -1 when absent. */
    private int[] slot;
    private int size;

    public IndexedMinHeap(int capacity) {
        this.heap = new int[capacity];
        this.keys = new long[capacity];
        this.slot = new int[capacity];
        Arrays.fill(slot, -1);
    }

    /** Ids up to {@code capacity - 1} become valid; existing members keep their places. */
    public void ensureCapacity(int capacity) {
        if (capacity <= slot.length) {
            return;
        }
        int n = Math.max(capacity, slot.length * 2);
        int old = slot.length;
        heap = Arrays.copyOf(heap, n);
        keys = Arrays.copyOf(keys, n);
        slot = Arrays.copyOf(slot, n);
        Arrays.fill(slot, old, n, -1);
    }

    /** Ids this heap accepts: {@code [0, capacity())}. */
    public int capacity() {
        return slot.length;
    }

    /**
     * A long whose signed order is the order of {@code d} (NaN excluded), so that double scores can be
     * heap keys.
     */
    public static long sortable(double d) {
        long bits = Double.doubleToRawLongBits(d + 0.0);
        return bits ^ ((bits >> 63) & 0x7FFF_FFFF_FFFF_FFFFL);
    }

    public int size() {
        return size;
    }

    public boolean isEmpty() {
        return size == 0;
    }

    public boolean contains(int id) {
        return slot[id] >= 0;
    }

    /** The id with the smallest key; the heap must not be empty. */
    public int peek() {
        if (size == 0) {
            throw new IllegalStateException("heap is empty");
        }
        return heap[0];
    }

    public long key(int id) {
        return keys[present(id)];
    }

    /** The id at heap slot {@code i} (for iterating over all members). */
    public int at(int i) {
        return heap[i];
    }

    public void add(int id, long k) {
        if (slot[id] >= 0) {
            throw new IllegalArgumentException("id " + id + " is already in the heap");
        }
        siftUp(size++, id, k);
    }

    /** Sets a present id's key and restores the order. */
    public void update(int id, long k) {
        int i = present(id);
        long old = keys[i];
        if (k < old) {
            siftUp(i, id, k);
        } else if (k > old) {
            siftDown(i, id, k);
        }
    }

    public void remove(int id) {
        int i = present(id);
        slot[id] = -1;
        size--;
        if (i == size) {
            return;
        }
        int last = heap[size];
        long k = keys[size];
        siftDown(i, last, k);
        if (heap[i] == last) {
            siftUp(i, last, k);
        }
    }

    public int poll() {
        int id = peek();
        remove(id);
        return id;
    }

    /**
     * {@link #poll()} then {@link #add(int, long) add(id, k)} in one sift: the root leaves and {@code id}, absent, takes
     * its place. Returns the id that left.
     */
    public int replaceRoot(int id, long k) {
        int root = peek();
        if (slot[id] >= 0) {
            throw new IllegalArgumentException("id " + id + " is already in the heap");
        }
        slot[root] = -1;
        siftDown(0, id, k);
        return root;
    }

    /** Sets a key without restoring the order; call {@link #heapify()} after a batch. */
    public void setKeyUnordered(int id, long k) {
        keys[present(id)] = k;
    }

    /** Restores the order after {@link #setKeyUnordered} calls, in O(n). */
    public void heapify() {
        for (int i = (size >>> 1) - 1; i >= 0; i--) {
            siftDown(i, heap[i], keys[i]);
        }
    }

    private int present(int id) {
        int i = slot[id];
        if (i < 0) {
            throw new IllegalArgumentException("id " + id + " is not in the heap");
        }
        return i;
    }

    /** Whether (key ka, id a) comes before (kb, b): ties on the key go to the smaller id. */
    private static boolean less(long ka, int a, long kb, int b) {
        return ka < kb || (ka == kb && a < b);
    }

    /** Moves {@code id} with key {@code k} up from slot {@code i} to its place. */
    private void siftUp(int i, int id, long k) {
        while (i > 0) {
            int parent = (i - 1) >>> 1;
            int p = heap[parent];
            long pk = keys[parent];
            if (!less(k, id, pk, p)) {
                break;
            }
            heap[i] = p;
            keys[i] = pk;
            slot[p] = i;
            i = parent;
        }
        heap[i] = id;
        keys[i] = k;
        slot[id] = i;
    }

    /** Moves {@code id} with key {@code k} down from slot {@code i} to its place. */
    private void siftDown(int i, int id, long k) {
        int half = size >>> 1;
        while (i < half) {
            int child = 2 * i + 1;
            int c = heap[child];
            long ck = keys[child];
            int right = child + 1;
            if (right < size && less(keys[right], heap[right], ck, c)) {
                child = right;
                c = heap[right];
                ck = keys[right];
            }
            if (!less(ck, c, k, id)) {
                break;
            }
            heap[i] = c;
            keys[i] = ck;
            slot[c] = i;
            i = child;
        }
        heap[i] = id;
        keys[i] = k;
        slot[id] = i;
    }

    /** Re-checks the heap order and the slot index. */
    public void checkInvariants() {
        for (int i = 0; i < size; i++) {
            if (slot[heap[i]] != i) {
                throw new IllegalStateException("heap slot " + i + " holds id " + heap[i] + " whose index says " + slot[heap[i]]);
            }
            int parent = (i - 1) >>> 1;
            if (i > 0 && less(keys[i], heap[i], keys[parent], heap[parent])) {
                throw new IllegalStateException("heap order broken at slot " + i);
            }
        }
    }
}

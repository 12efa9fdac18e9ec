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
    /** (id) the id's heap slot, or -1 when absent. */
    private int[] slot;
    /** (id) the id's key while present. */
    private long[] key;
    private int size;

    public IndexedMinHeap(int capacity) {
        this.heap = new int[capacity];
        this.slot = new int[capacity];
        this.key = new long[capacity];
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
        key = Arrays.copyOf(key, n);
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
        if (slot[id] < 0) {
            throw new IllegalArgumentException("id " + id + " is not in the heap");
        }
        return key[id];
    }

    /** The id at heap slot {@code i} (for iterating over all members). */
    public int at(int i) {
        return heap[i];
    }

    public void add(int id, long k) {
        if (slot[id] >= 0) {
            throw new IllegalArgumentException("id " + id + " is already in the heap");
        }
        key[id] = k;
        heap[size] = id;
        slot[id] = size;
        siftUp(size++);
    }

    /** Sets a present id's key and restores the order. */
    public void update(int id, long k) {
        int i = slot[id];
        if (i < 0) {
            throw new IllegalArgumentException("id " + id + " is not in the heap");
        }
        long old = key[id];
        key[id] = k;
        if (k < old) {
            siftUp(i);
        } else if (k > old) {
            siftDown(i);
        }
    }

    public void remove(int id) {
        int i = slot[id];
        if (i < 0) {
            throw new IllegalArgumentException("id " + id + " is not in the heap");
        }
        slot[id] = -1;
        size--;
        if (i == size) {
            return;
        }
        int last = heap[size];
        heap[i] = last;
        slot[last] = i;
        siftDown(i);
        if (heap[i] == last) {
            siftUp(i);
        }
    }

    public int poll() {
        int id = peek();
        remove(id);
        return id;
    }

    /** Sets a key without restoring the order; call {@link #heapify()} after a batch. */
    public void setKeyUnordered(int id, long k) {
        if (slot[id] < 0) {
            throw new IllegalArgumentException("id " + id + " is not in the heap");
        }
        key[id] = k;
    }

    /** Restores the order after {@link #setKeyUnordered} calls, in O(n). */
    public void heapify() {
        for (int i = (size >>> 1) - 1; i >= 0; i--) {
            siftDown(i);
        }
    }

    private boolean less(int a, int b) {
        long ka = key[a];
        long kb = key[b];
        return ka < kb || (ka == kb && a < b);
    }

    private void siftUp(int i) {
        int id = heap[i];
        while (i > 0) {
            int parent = (i - 1) >>> 1;
            int p = heap[parent];
            if (!less(id, p)) {
                break;
            }
            heap[i] = p;
            slot[p] = i;
            i = parent;
        }
        heap[i] = id;
        slot[id] = i;
    }

    private void siftDown(int i) {
        int id = heap[i];
        int half = size >>> 1;
        while (i < half) {
            int child = 2 * i + 1;
            int c = heap[child];
            int right = child + 1;
            if (right < size && less(heap[right], c)) {
                child = right;
                c = heap[child];
            }
            if (!less(c, id)) {
                break;
            }
            heap[i] = c;
            slot[c] = i;
            i = child;
        }
        heap[i] = id;
        slot[id] = i;
    }

    /** Re-checks the heap order and the slot index. */
    public void checkInvariants() {
        for (int i = 0; i < size; i++) {
            if (slot[heap[i]] != i) {
                throw new IllegalStateException("heap slot " + i + " holds id " + heap[i] + " whose index says " + slot[heap[i]]);
            }
            if (i > 0 && less(heap[i], heap[(i - 1) >>> 1])) {
                throw new IllegalStateException("heap order broken at slot " + i);
            }
        }
    }
}

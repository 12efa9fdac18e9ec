package io.tierkv.bench.sim;

import java.util.Arrays;

/**
 * A binary min-heap of int ids in {@code [0, capacity)} with long keys and O(log n) update and removal
 * by id: the victim order of {@link ClairvoyantPolicy} (furthest next use) and {@link CoreTierPolicy}
 * (least popular). Ties on the key go to the smaller id. Primitive arrays only; nothing is allocated
 * after construction.
 */
final class IndexedMinHeap {
    /** (slot) the id at each heap slot; slots {@code [0, size)} are used. */
    private final int[] heap;
    /** (id) the id's heap slot, or -1 when absent. */
    private final int[] slot;
    /** (id) the id's key while present. */
    private final long[] key;
    private int size;

    IndexedMinHeap(int capacity) {
        this.heap = new int[capacity];
        this.slot = new int[capacity];
        this.key = new long[capacity];
        Arrays.fill(slot, -1);
    }

    int size() {
        return size;
    }

    boolean isEmpty() {
        return size == 0;
    }

    boolean contains(int id) {
        return slot[id] >= 0;
    }

    /** The id with the smallest key; the heap must not be empty. */
    int peek() {
        if (size == 0) {
            throw new IllegalStateException("heap is empty");
        }
        return heap[0];
    }

    long key(int id) {
        if (slot[id] < 0) {
            throw new IllegalArgumentException("id " + id + " is not in the heap");
        }
        return key[id];
    }

    /** The id at heap slot {@code i} (for iterating over all members). */
    int at(int i) {
        return heap[i];
    }

    void add(int id, long k) {
        if (slot[id] >= 0) {
            throw new IllegalArgumentException("id " + id + " is already in the heap");
        }
        key[id] = k;
        heap[size] = id;
        slot[id] = size;
        siftUp(size++);
    }

    /** Sets a present id's key and restores the order. */
    void update(int id, long k) {
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

    void remove(int id) {
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

    int poll() {
        int id = peek();
        remove(id);
        return id;
    }

    /** Sets a key without restoring the order; call {@link #heapify()} after a batch. */
    void setKeyUnordered(int id, long k) {
        if (slot[id] < 0) {
            throw new IllegalArgumentException("id " + id + " is not in the heap");
        }
        key[id] = k;
    }

    /** Restores the order after {@link #setKeyUnordered} calls, in O(n). */
    void heapify() {
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
    void checkInvariants() {
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

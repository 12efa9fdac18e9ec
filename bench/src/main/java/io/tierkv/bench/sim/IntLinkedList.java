package io.tierkv.bench.sim;

import java.util.Arrays;

/**
 * An intrusive doubly linked list of int ids in {@code [0, capacity)}: O(1) add at the front, removal
 * and move to the front, without a node object per entry (LRU's recency order).
 */
final class IntLinkedList {
    private static final int NONE = -1;
    /** (id + 1 sentinel) neighbours; the sentinel sits at index {@code capacity}. */
    private final int[] prev;
    private final int[] next;
    private final int sentinel;
    private int size;

    IntLinkedList(int capacity) {
        this.prev = new int[capacity + 1];
        this.next = new int[capacity + 1];
        this.sentinel = capacity;
        Arrays.fill(prev, NONE);
        Arrays.fill(next, NONE);
        prev[sentinel] = sentinel;
        next[sentinel] = sentinel;
    }

    int size() {
        return size;
    }

    boolean contains(int id) {
        return next[id] != NONE;
    }

    void addFirst(int id) {
        if (contains(id)) {
            throw new IllegalArgumentException("id " + id + " is already listed");
        }
        int first = next[sentinel];
        next[id] = first;
        prev[id] = sentinel;
        prev[first] = id;
        next[sentinel] = id;
        size++;
    }

    void remove(int id) {
        if (!contains(id)) {
            throw new IllegalArgumentException("id " + id + " is not listed");
        }
        next[prev[id]] = next[id];
        prev[next[id]] = prev[id];
        next[id] = NONE;
        prev[id] = NONE;
        size--;
    }

    void moveToFront(int id) {
        remove(id);
        addFirst(id);
    }

    /** The last id (least recently added or moved), or -1 when empty. */
    int last() {
        int id = prev[sentinel];
        return id == sentinel ? NONE : id;
    }

    /** The first id, or -1 when empty. */
    int first() {
        int id = next[sentinel];
        return id == sentinel ? NONE : id;
    }

    /** The id after {@code id} toward the back, or -1 at the end. */
    int after(int id) {
        int n = next[id];
        return n == sentinel ? NONE : n;
    }

    /** Re-checks the links both ways and the size. */
    void checkInvariants() {
        int n = 0;
        for (int id = next[sentinel]; id != sentinel; id = next[id]) {
            if (next[prev[id]] != id) {
                throw new IllegalStateException("list link broken at id " + id);
            }
            if (++n > size) {
                throw new IllegalStateException("list holds more than its size " + size + " (a loop?)");
            }
        }
        if (n != size) {
            throw new IllegalStateException("list holds " + n + " ids, size says " + size);
        }
    }
}

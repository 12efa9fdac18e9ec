package io.tierkv.bench.sim;

/** A bounded FIFO queue of ints on a ring buffer (S3-FIFO's small and main queues). */
final class IntQueue {
    private final int[] ring;
    private int head;
    private int size;

    IntQueue(int capacity) {
        this.ring = new int[Math.max(1, capacity)];
    }

    int size() {
        return size;
    }

    boolean isEmpty() {
        return size == 0;
    }

    /** Appends at the back (newest). */
    void offer(int value) {
        if (size == ring.length) {
            throw new IllegalStateException("queue of " + ring.length + " is full");
        }
        int i = head + size;
        ring[i >= ring.length ? i - ring.length : i] = value;
        size++;
    }

    /** Removes and returns the front (oldest). */
    int poll() {
        if (size == 0) {
            throw new IllegalStateException("queue is empty");
        }
        int v = ring[head];
        head = head + 1 == ring.length ? 0 : head + 1;
        size--;
        return v;
    }

    /** The {@code i}-th value from the front. */
    int get(int i) {
        if (i < 0 || i >= size) {
            throw new IndexOutOfBoundsException(i + " of " + size);
        }
        int j = head + i;
        return ring[j >= ring.length ? j - ring.length : j];
    }
}

package io.tierkv.core;

import java.util.Arrays;

/**
 * A reusable list of level transitions {@code (layer, index, from, to)}, where {@code index} is a
 * token position or a block index depending on who wrote it. Primitive arrays, no object per
 * transition; {@link #clear()} keeps the capacity.
 *
 * <p>Layout: one int per transition and one run per layer change, because a window close at 128k tokens
 * x 32 layers lists millions of transitions, all of one layer in a row, and their size is what it costs
 * to write them (measured: 10 bytes a transition made the close 3x slower than this 4).
 *
 * <pre>
 *   packed[i] = index &lt;&lt; 4 | from &lt;&lt; 2 | to        (from, to: level codes 0..3; index &lt;= MAX_INDEX)
 *   runs      = (layer 0, end 3) (layer 5, end 4) ...   transitions [previous end, end) belong to layer
 * </pre>
 */
public final class Transitions {
    /** The largest index a transition can carry (2^27 - 1: 134 million tokens or blocks of one layer). */
    public static final int MAX_INDEX = (1 << 27) - 1;

    /** (transition) {@link #pack packed} index, from and to. */
    private int[] packed = new int[64];
    /** (run) the layer of each run of transitions. */
    private int[] runLayer = new int[8];
    /** (run) the end (exclusive) of each run; a run starts where the previous one ends. */
    private int[] runEnd = new int[8];
    private int runs;
    private int size;
    /** The run {@link #layer} found last: readers go through the list in order. */
    private int cursor;

    /** One transition as an int: {@code index << 4 | from << 2 | to}; arguments are not checked. */
    public static int pack(int index, int from, int to) {
        return index << 4 | from << 2 | to;
    }

    /** Appends one transition. */
    public void add(int layer, int index, byte from, byte to) {
        if (index < 0 || index > MAX_INDEX) {
            throw new IllegalArgumentException("transition index " + index + " outside [0, " + MAX_INDEX + "]");
        }
        if (from < Level.CACHE_CODE || from > Level.EVICT_CODE || to < Level.CACHE_CODE || to > Level.EVICT_CODE) {
            throw new IllegalArgumentException("transition levels " + from + " -> " + to + " are not level codes");
        }
        if (size == packed.length) {
            packed = Arrays.copyOf(packed, size * 2);
        }
        packed[size++] = pack(index, from, to);
        extendRun(layer);
    }

    /**
     * Appends {@code n} transitions of one layer at once, already {@link #pack packed} by a bulk producer that
     * checked them (a window close): one bulk copy instead of {@code n} calls.
     */
    public void addPacked(int layerIndex, int[] transitions, int n) {
        if (n == 0) {
            return;
        }
        if (size + n > packed.length) {
            packed = Arrays.copyOf(packed, Math.max(size + n, packed.length * 2));
        }
        System.arraycopy(transitions, 0, packed, size, n);
        size += n;
        extendRun(layerIndex);
    }

    private void extendRun(int layer) {
        if (runs > 0 && runLayer[runs - 1] == layer) {
            runEnd[runs - 1] = size;
            return;
        }
        if (runs == runLayer.length) {
            runLayer = Arrays.copyOf(runLayer, runs * 2);
            runEnd = Arrays.copyOf(runEnd, runs * 2);
        }
        runLayer[runs] = layer;
        runEnd[runs] = size;
        runs++;
    }

    public int size() {
        return size;
    }

    public boolean isEmpty() {
        return size == 0;
    }

    /** The layer of transition {@code i}: O(1) when read in order, a binary search otherwise. */
    public int layer(int i) {
        check(i);
        int r = cursor;
        if (i < runEnd[r] && (r == 0 || i >= runEnd[r - 1])) {
            return runLayer[r];
        }
        r = r + 1 < runs && i >= runEnd[r] && i < runEnd[r + 1] ? r + 1 : findRun(i);
        cursor = r;
        return runLayer[r];
    }

    private int findRun(int i) {
        int lo = 0;
        int hi = runs - 1;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (runEnd[mid] <= i) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }

    public int index(int i) {
        check(i);
        return packed[i] >>> 4;
    }

    public byte from(int i) {
        check(i);
        return (byte) (packed[i] >>> 2 & 3);
    }

    public byte to(int i) {
        check(i);
        return (byte) (packed[i] & 3);
    }

    /** Number of transitions whose target is {@code level}. */
    public int countTo(Level level) {
        int n = 0;
        for (int i = 0; i < size; i++) {
            if ((packed[i] & 3) == level.code()) {
                n++;
            }
        }
        return n;
    }

    public void clear() {
        size = 0;
        runs = 0;
        cursor = 0;
    }

    private void check(int i) {
        if (i < 0 || i >= size) {
            throw new IndexOutOfBoundsException("transition " + i + " of " + size);
        }
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < size; i++) {
            if (i > 0) {
                sb.append(", ");
            }
            sb.append(layer(i)).append(':').append(index(i)).append(' ')
                    .append(Level.of(from(i))).append("->").append(Level.of(to(i)));
        }
        return sb.append(']').toString();
    }
}

package io.tierkv.core;

import java.util.Arrays;

/**
 * A reusable list of level transitions {@code (layer, index, from, to)}, where {@code index} is a
 * token position or a block index depending on who wrote it. Primitive arrays, no object per
 * transition; {@link #clear()} keeps the capacity.
 *
 * <p>Layout: two bytes per transition, grouped in runs of one layer whose indexes lie within {@link #SPAN} of
 * the run's base. A window close at 128k tokens x 32 layers can list millions of transitions (3.4 million in
 * {@code WindowCloseBenchmark}), a run per 4,096 tokens of a layer, written in place through {@link #claim}; at
 * 2 bytes instead of the 10 of a layer int, an index int and two level bytes, they take 7 MB instead of 34.
 *
 * <pre>
 *   entry[i] = (index - base) &lt;&lt; 4 | from &lt;&lt; 2 | to     16 bits; from, to: level codes 0..3
 *   run r    = (layer, base, end)                         entries [end of run r - 1, end) belong to it
 *
 *   add(0, 5, N, L)  add(0, 9, L, E)  add(2, 9, C, N)
 *   entries  0x0006  0x004b  0x0001
 *   runs     (layer 0, base 5, end 2)  (layer 2, base 9, end 3)
 * </pre>
 */
public final class Transitions {
    /** Indexes of one run lie in {@code [base, base + SPAN)}: twelve bits of offset in an entry. */
    public static final int SPAN = 1 << 12;

    /** (transition) {@link #entry} of each transition, read as unsigned 16 bits. */
    private short[] entries = new short[64];
    /** (run) the layer of each run. */
    private int[] runLayer = new int[8];
    /** (run) the index its entries' offsets count from. */
    private int[] runBase = new int[8];
    /** (run) the end (exclusive) of each run's entries; a run starts where the previous one ends. */
    private int[] runEnd = new int[8];
    private int runs;
    private int size;
    /** The run found last: readers go through the list in order, so a lookup is O(1) then. */
    private int cursor;

    /** One transition's entry in a run based at {@code index - offset}; arguments are not checked. */
    public static int entry(int offset, int from, int to) {
        return offset << 4 | from << 2 | to;
    }

    /** Appends one transition. */
    public void add(int layer, int index, byte from, byte to) {
        if (index < 0) {
            throw new IllegalArgumentException("transition index " + index + " is negative");
        }
        if (from < Level.CACHE_CODE || from > Level.EVICT_CODE || to < Level.CACHE_CODE || to > Level.EVICT_CODE) {
            throw new IllegalArgumentException("transition levels " + from + " -> " + to + " are not level codes");
        }
        if (size == entries.length) {
            entries = Arrays.copyOf(entries, size * 2);
        }
        int r = runs - 1;
        boolean extend = r >= 0 && runLayer[r] == layer && index >= runBase[r] && index - runBase[r] < SPAN;
        int base = extend ? runBase[r] : index;
        entries[size++] = (short) entry(index - base, from, to);
        if (extend) {
            runEnd[r] = size;
        } else {
            newRun(layer, base);
        }
    }

    /**
     * Claims room for up to {@code max} transitions, for a bulk producer in core (a window close) that writes
     * their checked {@link #entry entries} into the returned array from index {@link #size()} on, then appends
     * them with {@link #commit}: no copy and no call per transition. The array is valid until the next add or
     * claim.
     */
    public short[] claim(int max) {
        if (size + max > entries.length) {
            entries = Arrays.copyOf(entries, Math.max(size + max, entries.length * 2));
        }
        return entries;
    }

    /**
     * Appends the {@code n} transitions written after a {@link #claim}, one run: layer {@code layer}, indexes
     * {@code base} plus each entry's offset.
     */
    public void commit(int layer, int base, int n) {
        if (n < 0 || size + n > entries.length) {
            throw new IllegalArgumentException("commit of " + n + " transitions after " + size + " exceeds the claimed room");
        }
        if (n > 0) {
            size += n;
            newRun(layer, base);
        }
    }

    private void newRun(int layer, int base) {
        if (runs == runLayer.length) {
            runLayer = Arrays.copyOf(runLayer, runs * 2);
            runBase = Arrays.copyOf(runBase, runs * 2);
            runEnd = Arrays.copyOf(runEnd, runs * 2);
        }
        runLayer[runs] = layer;
        runBase[runs] = base;
        runEnd[runs] = size;
        runs++;
    }

    public int size() {
        return size;
    }

    public boolean isEmpty() {
        return size == 0;
    }

    public int layer(int i) {
        return runLayer[run(i)];
    }

    public int index(int i) {
        return runBase[run(i)] + ((entries[i] & 0xffff) >>> 4);
    }

    public byte from(int i) {
        check(i);
        return (byte) (entries[i] >>> 2 & 3);
    }

    public byte to(int i) {
        check(i);
        return (byte) (entries[i] & 3);
    }

    /** The run holding transition {@code i}: O(1) when read in order, a binary search otherwise. */
    private int run(int i) {
        check(i);
        int r = cursor;
        if (r < runs && i < runEnd[r] && (r == 0 || i >= runEnd[r - 1])) {
            return r;
        }
        if (r + 1 < runs && i >= runEnd[r] && i < runEnd[r + 1]) {
            r++;
        } else {
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
            r = lo;
        }
        cursor = r;
        return r;
    }

    /** Number of transitions whose target is {@code level}. */
    public int countTo(Level level) {
        int n = 0;
        for (int i = 0; i < size; i++) {
            if ((entries[i] & 3) == level.code()) {
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

package io.tierkv.core;

import java.util.Arrays;

/**
 * A reusable list of level transitions {@code (layer, index, from, to)}, where {@code index} is a
 * token position or a block index depending on who wrote it. Primitive arrays, no object per
 * transition; {@link #clear()} keeps the capacity.
 */
public final class Transitions {
    private int[] layer = new int[64];
    private int[] index = new int[64];
    private byte[] from = new byte[64];
    private byte[] to = new byte[64];
    private int size;

    /** Appends one transition. */
    public void add(int layer, int index, byte from, byte to) {
        if (size == this.layer.length) {
            grow();
        }
        this.layer[size] = layer;
        this.index[size] = index;
        this.from[size] = from;
        this.to[size] = to;
        size++;
    }

    /**
     * Appends {@code n} transitions of one layer at once, {@code (index[i], from[i], to[i])} for {@code i < n}:
     * one bulk copy per array instead of {@code n} calls (a window close moves a third of all tokens).
     */
    public void addAll(int layerIndex, int[] indexes, byte[] froms, byte[] tos, int n) {
        if (size + n > layer.length) {
            int capacity = Math.max(size + n, layer.length * 2);
            layer = Arrays.copyOf(layer, capacity);
            index = Arrays.copyOf(index, capacity);
            from = Arrays.copyOf(from, capacity);
            to = Arrays.copyOf(to, capacity);
        }
        Arrays.fill(layer, size, size + n, layerIndex);
        System.arraycopy(indexes, 0, index, size, n);
        System.arraycopy(froms, 0, from, size, n);
        System.arraycopy(tos, 0, to, size, n);
        size += n;
    }

    public int size() {
        return size;
    }

    public boolean isEmpty() {
        return size == 0;
    }

    public int layer(int i) {
        check(i);
        return layer[i];
    }

    public int index(int i) {
        check(i);
        return index[i];
    }

    public byte from(int i) {
        check(i);
        return from[i];
    }

    public byte to(int i) {
        check(i);
        return to[i];
    }

    /** Number of transitions whose target is {@code level}. */
    public int countTo(Level level) {
        int n = 0;
        for (int i = 0; i < size; i++) {
            if (to[i] == level.code()) {
                n++;
            }
        }
        return n;
    }

    public void clear() {
        size = 0;
    }

    private void check(int i) {
        if (i < 0 || i >= size) {
            throw new IndexOutOfBoundsException("transition " + i + " of " + size);
        }
    }

    private void grow() {
        int n = layer.length * 2;
        layer = Arrays.copyOf(layer, n);
        index = Arrays.copyOf(index, n);
        from = Arrays.copyOf(from, n);
        to = Arrays.copyOf(to, n);
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < size; i++) {
            if (i > 0) {
                sb.append(", ");
            }
            sb.append(layer[i]).append(':').append(index[i]).append(' ')
                    .append(Level.of(from[i])).append("->").append(Level.of(to[i]));
        }
        return sb.append(']').toString();
    }
}

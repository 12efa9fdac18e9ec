package io.tierkv.core.trace;

import java.util.Arrays;

/**
 * One generated token's top-k positions, per layer: a reusable buffer that readers and generators fill
 * and writers and simulators read, so that replaying a trace allocates nothing per step.
 */
public final class TraceStep {
    /** (layer, topK) positions; the first {@code counts[layer]} of a row are valid, ascending. */
    private final int[][] positions;
    /** (layer) how many positions each row holds. */
    private final int[] counts;
    private final int topK;
    private int step = -1;

    public TraceStep(int layers, int topK) {
        if (layers <= 0) {
            throw new IllegalArgumentException("layers must be > 0, was " + layers);
        }
        if (topK <= 0) {
            throw new IllegalArgumentException("topK must be > 0, was " + topK);
        }
        this.positions = new int[layers][topK];
        this.counts = new int[layers];
        this.topK = topK;
    }

    /** The 0-based index of the generated token this step describes. */
    public int step() {
        return step;
    }

    public void setStep(int step) {
        this.step = step;
    }

    public int layers() {
        return counts.length;
    }

    public int topK() {
        return topK;
    }

    /** Positions held for {@code layer}. */
    public int count(int layer) {
        return counts[layer];
    }

    /** The backing row of {@code layer}: read the first {@link #count} entries; writers fill it in place. */
    public int[] positions(int layer) {
        return positions[layer];
    }

    public int position(int layer, int i) {
        if (i < 0 || i >= counts[layer]) {
            throw new IndexOutOfBoundsException("position " + i + " of " + counts[layer] + " in layer " + layer);
        }
        return positions[layer][i];
    }

    /** Sets how many positions of the backing row are valid. */
    public void setCount(int layer, int n) {
        if (n < 0 || n > topK) {
            throw new IllegalArgumentException("count must be in [0, " + topK + "], was " + n);
        }
        counts[layer] = n;
    }

    /** Copies {@code n} ascending positions into {@code layer}'s row. */
    public void set(int layer, int[] src, int n) {
        setCount(layer, n);
        System.arraycopy(src, 0, positions[layer], 0, n);
    }

    /** A copy of one layer's positions (tests and debugging). */
    public int[] toArray(int layer) {
        return Arrays.copyOf(positions[layer], counts[layer]);
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("step ").append(step).append(':');
        for (int l = 0; l < counts.length; l++) {
            sb.append(" L").append(l).append(Arrays.toString(toArray(l)));
        }
        return sb.toString();
    }
}

package io.tierkv.tiering.copy;

import java.util.Arrays;

/**
 * Staged block copies of one direction, turned into runs at flush: the pairs are sorted by source slot and
 * consecutive pairs whose source and destination both advance by one are merged into one copy, up to
 * {@code maxRunSlots}. One copy of {@code n} blocks costs one descriptor (CPU) or one driver call and event
 * (CUDA) instead of {@code n}, which is what lets the engine keep up with memcpy on small blocks.
 *
 * <p>Each pair is packed into one long ({@code src << 32 | dst}), so staging and sorting allocate nothing
 * once the array has grown to the batch size (sorting fewer than a few thousand longs does not allocate).
 */
final class CopyBatch {
    /** Receives one run. */
    interface RunConsumer {
        void run(CopyDirection direction, int srcSlot, int dstSlot, int slots);
    }

    private final CopyDirection direction;
    private final int maxRunSlots;
    /** (staged) {@code src << 32 | dst}. */
    private long[] pairs = new long[64];
    private int size;

    CopyBatch(CopyDirection direction, int maxRunSlots) {
        if (maxRunSlots <= 0) {
            throw new IllegalArgumentException("maxRunSlots must be > 0, was " + maxRunSlots);
        }
        this.direction = direction;
        this.maxRunSlots = maxRunSlots;
    }

    void add(int srcSlot, int dstSlot) {
        if (size == pairs.length) {
            pairs = Arrays.copyOf(pairs, size * 2);
        }
        pairs[size++] = ((long) srcSlot << 32) | (dstSlot & 0xFFFF_FFFFL);
    }

    int size() {
        return size;
    }

    /** Emits the staged pairs as runs, in source order, and empties the batch; returns the number of runs. */
    int drainRuns(RunConsumer out) {
        if (size == 0) {
            return 0;
        }
        try {
            return emitRuns(out);
        } finally {
            size = 0; // also when a consumer threw: what was staged is not submitted again by the next drain
        }
    }

    private int emitRuns(RunConsumer out) {
        Arrays.sort(pairs, 0, size);
        int runs = 0;
        int runSrc = src(pairs[0]);
        int runDst = dst(pairs[0]);
        int runLength = 1;
        for (int i = 1; i < size; i++) {
            int s = src(pairs[i]);
            int d = dst(pairs[i]);
            if (s == runSrc + runLength && d == runDst + runLength && runLength < maxRunSlots) {
                runLength++;
            } else {
                out.run(direction, runSrc, runDst, runLength);
                runs++;
                runSrc = s;
                runDst = d;
                runLength = 1;
            }
        }
        out.run(direction, runSrc, runDst, runLength);
        return runs + 1;
    }

    private static int src(long pair) {
        return (int) (pair >>> 32);
    }

    private static int dst(long pair) {
        return (int) pair;
    }
}

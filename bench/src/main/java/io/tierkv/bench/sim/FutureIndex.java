package io.tierkv.bench.sim;

import io.tierkv.core.trace.TraceHeader;
import io.tierkv.core.trace.TraceSource;
import io.tierkv.core.trace.TraceStep;
import java.io.IOException;
import java.util.Arrays;

/**
 * The whole request stream of a trace with, for each request, the index of the next request on the
 * same block: what Belady's policy needs to know the future. Built by one pass over the trace with the
 * same grouping the {@link Simulator} uses (one request per block touched by a layer's top-k at a step,
 * tail blocks excluded), so request {@code r} here is request {@code r} there. Immutable; shared by
 * the clairvoyant replays of every budget.
 *
 * <p>Memory: two ints per request and one per block id (2,000 steps x 32 layers x k = 8 is 4 MiB).
 */
public final class FutureIndex {
    /** Next use of a block that is never requested again. */
    public static final int NEVER = Integer.MAX_VALUE;

    /** (request) block id. */
    private final int[] ids;
    /** (request) index of the next request on the same block, or {@link #NEVER}. */
    private final int[] next;
    /** (block id) index of the block's first request, or {@link #NEVER}. */
    private final int[] first;

    private FutureIndex(int[] ids, int[] next, int[] first) {
        this.ids = ids;
        this.next = next;
        this.first = first;
    }

    /** Reads {@code source} to its end. */
    public static FutureIndex build(TraceSource source) throws IOException {
        TraceHeader h = source.header();
        int blockSize = h.layout().blockSize();
        int blocksPerLayer = Simulator.blocksPerLayer(h);
        int[] ids = new int[1024];
        int count = 0;
        TraceStep step = h.newStep();
        while (source.next(step)) {
            int tail = Simulator.tailBlock(h.promptLength(), step.step(), blockSize);
            for (int l = 0; l < h.layers(); l++) {
                int[] p = step.positions(l);
                int n = step.count(l);
                for (int i = 0; i < n; ) {
                    int b = p[i] / blockSize;
                    i = Simulator.runEnd(p, i, n, blockSize);
                    if (b != tail) {
                        if (count == ids.length) {
                            ids = Arrays.copyOf(ids, ids.length * 2);
                        }
                        ids[count++] = l * blocksPerLayer + b;
                    }
                }
            }
        }
        ids = Arrays.copyOf(ids, count);
        int[] next = new int[count];
        int[] first = new int[h.layers() * blocksPerLayer];
        Arrays.fill(first, NEVER);
        for (int r = count - 1; r >= 0; r--) {
            next[r] = first[ids[r]];
            first[ids[r]] = r;
        }
        return new FutureIndex(ids, next, first);
    }

    /** Requests in the stream. */
    public int requests() {
        return ids.length;
    }

    /** The block id of request {@code r}. */
    public int id(int r) {
        return ids[r];
    }

    /** The next request on request {@code r}'s block, or {@link #NEVER}. */
    public int next(int r) {
        return next[r];
    }

    /** The first request on block {@code id}, or {@link #NEVER}. */
    public int first(int id) {
        return first[id];
    }
}

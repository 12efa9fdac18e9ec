package io.tierkv.bench.sim;

import io.tierkv.core.Budget;
import io.tierkv.core.trace.TraceHeader;
import io.tierkv.core.trace.TraceSource;
import io.tierkv.core.trace.TraceStep;
import io.tierkv.model.generate.HostRead;
import java.io.IOException;
import java.util.concurrent.atomic.LongAdder;

/**
 * Replays one trace through one policy at one device budget, the way the tier manager would see it.
 *
 * <p>Model: a block is K and V of {@code blockSize} tokens of one layer. The prompt's blocks are
 * computed on the device and placed by the policy ({@link SimPolicy#prefill}); moves made then are
 * counted apart (prefill) from those per generated token. Each generated token is appended to every
 * layer's tail block, which is always on the device and outside the budget's remaining
 * {@code capacity}; when a tail fills, the policy admits it like any other block. Each layer's top-k
 * positions at a step are grouped into block <em>requests</em> (positions in one block make one
 * request). A request is a <b>hit</b> if the block is on the device (the tail always is), a
 * <b>miss</b> if it is on the host (the policy fetches it, or documents that it bypasses), and
 * <b>lost</b>, also a miss, if the policy had evicted every requested token of it: nothing can serve it
 * and nothing is moved. Device hit ratio = hits / requests; Belady's bound holds for this ratio.
 */
public final class Simulator {
    private Simulator() {
    }

    /** Blocks a layer holds at the end of the trace (at least one). */
    public static int blocksPerLayer(TraceHeader h) {
        return Math.max(1, h.layout().blocksFor(h.finalLength()));
    }

    /** The tail block while generated token {@code step} is written (position {@code promptLength + step}). */
    static int tailBlock(int promptLength, int step, int blockSize) {
        return (promptLength + step) / blockSize;
    }

    /** The index after the run of positions that share {@code positions[from]}'s block. */
    static int runEnd(int[] positions, int from, int n, int blockSize) {
        int b = positions[from] / blockSize;
        int j = from + 1;
        while (j < n && positions[j] / blockSize == b) {
            j++;
        }
        return j;
    }

    /** Device blocks over all layers, tail blocks included, for a budget on this trace. */
    public static int budgetBlocks(Budget budget, TraceHeader h) {
        if (budget.kind() == Budget.Kind.BLOCKS) {
            return (int) budget.value();
        }
        return h.layers() * budget.blocks(h.finalLength(), h.layout().blockSize());
    }

    /**
     * Replays {@code trace} through a fresh {@code policy}.
     *
     * @param future   the request stream's future when the policy {@link SimPolicy#needsFuture() needs} it
     * @param progress incremented once per generated token (may be null)
     */
    public static SimResult run(SimPolicy policy, TraceSource trace, Budget budget, FutureIndex future, LongAdder progress)
            throws IOException {
        return run(policy, trace, budget, future, progress, HostRead.EXACT);
    }

    /** As {@link #run(SimPolicy, TraceSource, Budget, FutureIndex, LongAdder)}, counting host reads in {@code hostRead} mode. */
    public static SimResult run(SimPolicy policy, TraceSource trace, Budget budget, FutureIndex future, LongAdder progress,
                                HostRead hostRead) throws IOException {
        long start = System.nanoTime();
        TraceHeader h = trace.header();
        SimContext ctx = context(policy, h, budget, future);
        Replay replay = new Replay(policy, ctx, hostRead);
        TraceStep step = h.newStep();
        while (trace.next(step)) {
            replay.step(step);
            if (progress != null) {
                progress.increment();
            }
        }
        if (replay.stats.steps != h.steps()) {
            throw new IllegalStateException("trace yielded " + replay.stats.steps + " steps, its header says " + h.steps());
        }
        policy.finished();
        ctx.residency().checkInvariants();
        replay.stats.checkInvariants();
        int layers = h.layers();
        double fraction = (double) ctx.budgetBlocks() / ((long) layers * ctx.blocksPerLayer());
        return new SimResult(policy.name(), budget.toString(), ctx.budgetBlocks(), fraction, h.layout().blockBytes(),
                replay.stats.copy(), (System.nanoTime() - start) / 1e9, null, null);
    }

    private static SimContext context(SimPolicy policy, TraceHeader h, Budget budget, FutureIndex future) {
        int layers = h.layers();
        int budgetBlocks = budgetBlocks(budget, h);
        int capacity = budgetBlocks - layers;
        if (capacity < 1) {
            throw new IllegalArgumentException("budget " + budget + " gives " + budgetBlocks + " device blocks, but the " + layers
                    + " layers' tail blocks alone take " + layers + "; use a larger budget");
        }
        if (policy.needsFuture() && future == null) {
            throw new IllegalArgumentException(policy.name() + " needs the trace's future (FutureIndex)");
        }
        int blocksPerLayer = blocksPerLayer(h);
        int tokensPerLayer = (int) Math.min(Integer.MAX_VALUE, (long) budgetBlocks * h.layout().blockSize() / layers);
        SimStats stats = new SimStats();
        Residency residency = new Residency(policy.name(), layers * blocksPerLayer, capacity, stats);
        return new SimContext(h, budget, budgetBlocks, capacity, tokensPerLayer, blocksPerLayer, residency, future);
    }

    /** The state of one replay: the tail, the request counter, the stats. */
    private static final class Replay {
        private final SimPolicy policy;
        private final SimContext ctx;
        private final SimStats stats;
        private final int blockSize;
        private final int promptLength;
        private final boolean canDrop;
        private final HostReads hostReads;
        private int tail;
        private int request;

        Replay(SimPolicy policy, SimContext ctx, HostRead hostRead) {
            this.policy = policy;
            this.ctx = ctx;
            this.stats = statsOf(ctx);
            this.blockSize = ctx.blockSize();
            this.promptLength = ctx.promptLength();
            this.canDrop = policy.canDrop();
            this.hostReads = new HostReads(hostRead, ctx, stats);
            policy.start(ctx);
            this.tail = promptLength == 0 ? 0 : (promptLength - 1) / blockSize;
            policy.prefill(tail);
            ctx.residency().endPrefill();
        }

        void step(TraceStep step) {
            int s = step.step();
            policy.append();
            int newTail = tailBlock(promptLength, s, blockSize);
            for (int b = tail; b < newTail; b++) {
                for (int l = 0; l < ctx.layers(); l++) {
                    policy.admit(l, b);
                }
            }
            tail = newTail;
            policy.admitted();
            for (int l = 0; l < ctx.layers(); l++) {
                int[] p = step.positions(l);
                int n = step.count(l);
                hostReads.step(l, p, n, tail);
                for (int i = 0; i < n; ) {
                    int j = runEnd(p, i, n, blockSize);
                    request(l, p, i, j);
                    i = j;
                }
                policy.observe(l, p, n);
            }
            policy.endStep(s);
            stats.steps++;
        }

        private void request(int layer, int[] p, int from, int to) {
            int block = p[from] / blockSize;
            int count = to - from;
            int live = count;
            if (canDrop) {
                live = 0;
                for (int i = from; i < to; i++) {
                    if (!policy.dropped(layer, p[i])) {
                        live++;
                    }
                }
            }
            stats.requests++;
            stats.positions += count;
            stats.lostPositions += count - live;
            byte where = block == tail ? Residency.DEVICE : ctx.residency().where(ctx.id(layer, block));
            int r = block == tail ? -1 : request++;
            if (live == 0 || where == Residency.DROPPED) {
                stats.misses++;
                stats.lost++;
                stats.lostPositions += live;
            } else if (where == Residency.DEVICE) {
                stats.hits++;
                stats.positionHits += live;
                if (r < 0) {
                    stats.tailHits++;
                } else {
                    policy.onHit(layer, block, r);
                }
            } else if (where == Residency.HOST) {
                stats.misses++;
                policy.onMiss(layer, block, r);
            } else {
                throw new IllegalStateException(policy.name() + ": request on layer " + layer + " block " + block
                        + " which was never admitted");
            }
        }

        private static SimStats statsOf(SimContext ctx) {
            return ctx.residency().stats();
        }
    }
}

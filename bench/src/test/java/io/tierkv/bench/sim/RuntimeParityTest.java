package io.tierkv.bench.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.core.Budget;
import io.tierkv.core.DType;
import io.tierkv.core.KvLayout;
import io.tierkv.core.Tier;
import io.tierkv.core.memory.MemoryLedger;
import io.tierkv.core.policy.Policies;
import io.tierkv.core.policy.PolicyContext;
import io.tierkv.core.popularity.PopularityCounters;
import io.tierkv.core.trace.SyntheticTrace;
import io.tierkv.core.trace.SyntheticTraceConfig;
import io.tierkv.core.trace.TraceHeader;
import io.tierkv.core.trace.TraceStep;
import io.tierkv.cuda.driver.Backend;
import io.tierkv.tiering.Sequence;
import io.tierkv.tiering.TierConfig;
import io.tierkv.tiering.TierManager;
import io.tierkv.tiering.TierStats;
import java.io.IOException;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The simulator predicts the runtime move for move: one trace (with the prompt's own attention) replayed through
 * the simulator's {@code hierarchical} and through a real {@link TierManager} driven the way the decoder drives it
 * (prior, the prompt appended block by block, then per token append, each layer's top-k, step) gives the same
 * hits, misses, copies each way and final residency of every block.
 */
class RuntimeParityTest {
    private static final KvLayout LAYOUT = new KvLayout(3, 2, 4, DType.F32, 16);

    private static SyntheticTraceConfig config() {
        return SyntheticTraceConfig.defaults(400, 300, 5).withLayout(LAYOUT);
    }

    @ParameterizedTest(name = "{0} at {1}")
    @CsvSource({"hierarchical, 0.1", "hierarchical, 0.25", "hierarchical:mode=drop, 0.25", "hierarchical, 0.5"})
    void simulatorAndTierManager_makeTheSameMoves(String spec, double fraction) throws IOException {
        Budget budget = Budget.fraction(fraction);
        SimPolicy sim = SimPolicies.create(spec);
        SimResult expected;
        try (SyntheticTrace trace = new SyntheticTrace(config())) {
            expected = Simulator.run(sim, trace, budget, null, null);
        }
        Residency residency = ((AbstractSimPolicy) sim).residency;
        SimContext ctx = ((AbstractSimPolicy) sim).context;

        MemoryLedger.Snapshot ledger = MemoryLedger.snapshot();
        try (SyntheticTrace trace = new SyntheticTrace(config())) {
            TraceHeader h = trace.header();
            int budgetBlocks = Simulator.budgetBlocks(budget, h);
            int totalBlocks = h.layers() * Simulator.blocksPerLayer(h);
            try (TierManager m = TierManager.create(TierConfig.builder(LAYOUT).backend(Backend.CPU)
                    .deviceCapacityBlocks(totalBlocks).hostCapacityBlocks(totalBlocks).build())) {
                Sequence s = m.open(Policies.create(spec),
                        new PolicyContext(h.layers(), h.promptLength(), ctx.budgetTokensPerLayer(), PopularityCounters.java()),
                        budgetBlocks);
                Counts live = replay(s, m, trace);
                TierStats stats = m.stats();
                SimStats e = expected.stats();
                assertEquals(e.requests - e.tailHits, live.requests - live.tailHits, "requests");
                assertEquals(e.hits, live.hits, "hits");
                assertEquals(e.misses, live.misses, "misses (lost included)");
                assertEquals(e.prefillD2hBlocks + e.d2hBlocks, stats.d2hBlocks(), "device-to-host blocks");
                assertEquals(e.prefillH2dBlocks + e.h2dBlocks, stats.h2dBlocks(), "host-to-device blocks");
                assertEquals(e.prefillDrops + e.drops, stats.evictedBlocks() + stats.droppedBlocks(), "freed blocks");
                assertTrue(stats.d2hBlocks() > 0, "the budget made the placement move blocks");
                int tail = s.blocks() - 1;
                for (int l = 0; l < h.layers(); l++) {
                    for (int b = 0; b < tail; b++) {
                        assertEquals(expectedTier(residency.where(ctx.id(l, b))), s.tier(l, b), "layer " + l + " block " + b);
                    }
                }
                s.close();
            }
        }
        ledger.assertNoLeaks();
    }

    private static Tier expectedTier(byte where) {
        switch (where) {
            case Residency.DEVICE: return Tier.DEVICE;
            case Residency.HOST: return Tier.HOST;
            default: return Tier.NONE;
        }
    }

    /** Request counts as the simulator defines them: positions of one block in one layer's top-k make one request. */
    private static final class Counts {
        long requests;
        long tailHits;
        long hits;
        long misses;
    }

    private static Counts replay(Sequence s, TierManager m, SyntheticTrace trace) throws IOException {
        TraceHeader h = trace.header();
        int bs = LAYOUT.blockSize();
        s.prior(h.prefill());
        for (int start = 0; start < h.promptLength(); start += bs) {
            s.append(Math.min(bs, h.promptLength() - start));
        }
        s.endPrefill();
        m.awaitCopies();
        Counts c = new Counts();
        int[] live = new int[h.topK()];
        TraceStep step = h.newStep();
        while (trace.next(step)) {
            s.append(1);
            m.awaitCopies();
            int tail = s.blocks() - 1;
            for (int l = 0; l < h.layers(); l++) {
                int[] p = step.positions(l);
                int n = step.count(l);
                for (int i = 0; i < n; ) {
                    int j = Simulator.runEnd(p, i, n, bs);
                    int block = p[i] / bs;
                    c.requests++;
                    boolean alive = false;
                    for (int x = i; x < j; x++) {
                        alive |= !s.masked(l, p[x]);
                    }
                    if (block == tail) {
                        c.tailHits++;
                        c.hits++;
                    } else if (alive && s.tier(l, block) == Tier.DEVICE) {
                        c.hits++;
                    } else {
                        c.misses++;
                    }
                    i = j;
                }
                // As in a live run: masked (dropped) keys get no attention, so they are never in the top-k.
                int m2 = 0;
                for (int i = 0; i < n; i++) {
                    if (!s.masked(l, p[i])) {
                        live[m2++] = p[i];
                    }
                }
                s.observeSelected(l, live, m2);
            }
            s.step();
            m.awaitCopies();
        }
        return c;
    }
}

package io.tierkv.bench.sim;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.core.Budget;
import io.tierkv.core.DType;
import io.tierkv.core.KvLayout;
import io.tierkv.core.trace.SyntheticTrace;
import io.tierkv.core.trace.SyntheticTraceConfig;
import io.tierkv.core.trace.TraceHeader;
import io.tierkv.core.trace.TraceSource;
import io.tierkv.core.trace.TraceStep;
import java.io.IOException;
import org.junit.jupiter.api.Test;

/** The A0 bound: between Belady and every policy that learns from requests, on synthetic traces only. */
class A0PolicyTest {
    private static final SyntheticTraceConfig CONFIG = SyntheticTraceConfig.defaults(2048, 300, 11)
            .withLayout(new KvLayout(4, 2, 16, DType.F16, 16));

    private static long misses(String policy, TraceSource trace, Budget budget) throws IOException {
        FutureIndex future = FutureIndex.build(new SyntheticTrace(CONFIG));
        return Simulator.run(SimPolicies.create(policy), trace, budget, future, null).stats().misses;
    }

    @Test
    void knowingTheDrawProbabilities_missesLessThanLearningThem_andNoLessThanBelady() throws IOException {
        for (String b : new String[] {"0.1", "0.25"}) {
            Budget budget = Budget.parse(b);
            long a0 = misses("a0", new SyntheticTrace(CONFIG), budget);
            long opt = misses("clairvoyant", new SyntheticTrace(CONFIG), budget);
            assertTrue(opt <= a0, b + ": clairvoyant " + opt + " > a0 " + a0);
            for (String learner : new String[] {"lru", "s3fifo", "hierarchical"}) {
                long m = misses(learner, new SyntheticTrace(CONFIG), budget);
                assertTrue(a0 < m, b + ": a0 " + a0 + " is not below " + learner + " " + m);
            }
        }
    }

    @Test
    void aRecordedTrace_isRefused_namingWhatA0Needs() {
        ArrayTrace recorded = ArrayTrace.oneLayer(4, 8, 1, new int[] {1}, new int[] {2});
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Simulator.run(SimPolicies.create("a0"), recorded, Budget.blocks(3), null, null));
        assertTrue(e.getMessage().contains("a0 needs a synthetic trace"), e.getMessage());
    }

    @Test
    void stepsThatAreNotTheHeadersGenerators_areRefused() {
        // the header of seed 11, the steps of seed 12
        SyntheticTrace other = new SyntheticTrace(new SyntheticTraceConfig(CONFIG.promptLength(), CONFIG.steps(), 12, CONFIG.layout(),
                CONFIG.topK(), CONFIG.sinks(), CONFIG.recentWindow(), CONFIG.popularSpans(), CONFIG.spanLength(), CONFIG.zipfExponent(),
                CONFIG.drift(), CONFIG.driftRecent(), CONFIG.sinkShare(), CONFIG.recentShare(), CONFIG.popularShare(),
                CONFIG.recallShare(), 0, CONFIG.passages()));
        TraceHeader header = new SyntheticTrace(CONFIG).header();
        TraceSource forged = new TraceSource() {
            @Override
            public TraceHeader header() {
                return header;
            }

            @Override
            public boolean next(TraceStep step) {
                return other.next(step);
            }

            @Override
            public void close() {
            }
        };
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> Simulator.run(SimPolicies.create("a0"), forged, Budget.parse("0.25"), null, null));
        assertTrue(e.getMessage().contains("not what the header's generator draws"), e.getMessage());
    }
}

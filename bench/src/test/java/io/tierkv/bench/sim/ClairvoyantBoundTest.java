package io.tierkv.bench.sim;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.core.Budget;
import io.tierkv.core.DType;
import io.tierkv.core.KvLayout;
import io.tierkv.core.trace.SyntheticTrace;
import io.tierkv.core.trace.SyntheticTraceConfig;
import io.tierkv.core.trace.TraceSource;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Belady's bound on random traces: no policy has a higher device hit ratio than clairvoyant at the same budget. */
class ClairvoyantBoundTest {

    @Test
    void clairvoyant_beatsEveryPolicy_onUniformRandomTraces() throws IOException {
        SplittableRandom rnd = new SplittableRandom(42);
        for (int trial = 0; trial < 12; trial++) {
            int layers = 1 + rnd.nextInt(3);
            int blockSize = new int[] {1, 2, 4, 16}[rnd.nextInt(4)];
            int prompt = 8 + rnd.nextInt(200);
            int steps = 20 + rnd.nextInt(80);
            int k = 1 + rnd.nextInt(6);
            int[][][] positions = new int[steps][layers][];
            for (int s = 0; s < steps; s++) {
                for (int l = 0; l < layers; l++) {
                    positions[s][l] = rnd.ints(0, prompt + s + 1).distinct().limit(Math.min(k, prompt + s + 1)).sorted().toArray();
                }
            }
            ArrayTrace trace = new ArrayTrace(blockSize, prompt, k, positions);
            int total = layers * ((prompt + steps + blockSize - 1) / blockSize);
            int budget = layers + 1 + rnd.nextInt(Math.max(1, total / 2));
            assertBound(trace::reopen, Budget.blocks(budget), "trial " + trial);
        }
    }

    @Test
    void clairvoyant_beatsEveryPolicy_onSyntheticTraces() throws IOException {
        for (long seed = 1; seed <= 3; seed++) {
            SyntheticTraceConfig c = SyntheticTraceConfig.defaults(1024, 120, seed).withLayout(new KvLayout(3, 2, 16, DType.F16, 8))
                    .withPopular(16, 4, 1.0, 0.5, 0.5);
            for (String budget : new String[] {"0.05", "0.2", "0.6"}) {
                assertBound(() -> new SyntheticTrace(c), Budget.parse(budget), "seed " + seed + " budget " + budget);
            }
        }
    }

    private interface Opener {
        TraceSource open() throws IOException;
    }

    private static void assertBound(Opener trace, Budget budget, String what) throws IOException {
        FutureIndex future = FutureIndex.build(trace.open());
        SimResult opt = Simulator.run(SimPolicies.create("clairvoyant"), trace.open(), budget, future, null);
        List<String> specs = new ArrayList<>(SimPolicies.names());
        specs.add("hierarchical:window=5,cache=3,normal=2,low=1");
        int compared = 0;
        for (String spec : specs) {
            SimPolicy p = SimPolicies.create(spec);
            SimResult r;
            try {
                r = Simulator.run(p, trace.open(), budget, future, null);
            } catch (IllegalArgumentException e) {
                continue; // a budget too small for h2o's heavy + recent split
            }
            assertTrue(opt.stats().misses <= r.stats().misses, what + ": " + spec + " has " + r.stats().misses
                    + " misses, clairvoyant " + opt.stats().misses);
            assertTrue(opt.hitRatio() >= r.hitRatio(), what + ": " + spec + " hit ratio " + r.hitRatio() + " > " + opt.hitRatio());
            compared++;
        }
        assertTrue(compared >= specs.size() - 2, what + ": only " + compared + " policies ran");
    }
}

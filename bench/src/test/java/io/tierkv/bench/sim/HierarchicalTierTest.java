package io.tierkv.bench.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.core.Budget;
import java.io.IOException;
import org.junit.jupiter.api.Test;

/**
 * Core's hierarchical policy and core's placement driving the tiers, by hand. One layer, blocks of one token,
 * prompt 4, budget 3 blocks (capacity 2 besides the tail), window 2 with thresholds CACHE >= 3, NORMAL >= 2,
 * LOW >= 1, placement tau 16. A block's value is ln(decayed request count) + step/16; a block never requested
 * enters with count 0.2 (ln 0.2 = -1.61); equal values keep the first come (smaller id).
 *
 * <pre>
 *   prefill  admit 0, 1 to the device; 2 (-1.61, not above victim 0) to the host      device {0 1}
 *   s0  admit 3 (-1.61): to the host                                                  device {0 1}
 *       hit 0 (0 -> ln 1.2 = 0.18); tail 4 hit (4 -> 0)
 *   s1  admit 4 (0) beats victim 1 (-1.61): demote 1                                  device {0 4}
 *       hit 0; miss 2: read in place, then 2 -> 0.235 beats victim 4 (0): swap         device {0 2}
 * </pre>
 */
class HierarchicalTierTest {
    private static final String SPEC = "hierarchical:window=2,cache=3,normal=2,low=1";

    private static ArrayTrace trace() {
        return ArrayTrace.oneLayer(1, 4, 2, new int[] {0, 4}, new int[] {0, 2}, new int[] {1, 3}, new int[] {0, 7}, new int[] {2, 8});
    }

    @Test
    void hierarchical_handComputed_placementAdmitsAndPromotesByValue() throws IOException {
        SimPolicy p = SimPolicies.create(SPEC);
        SimResult r = Simulator.run(p, ArrayTrace.oneLayer(1, 4, 2, new int[] {0, 4}, new int[] {0, 2}), Budget.blocks(3),
                null, null);
        SimStats s = r.stats();
        assertEquals(4, s.requests);
        assertEquals(3, s.hits);
        assertEquals(1, s.tailHits);
        assertEquals(1, s.misses);
        assertEquals(0, s.lost);
        assertEquals(1, s.prefillD2hBlocks);
        assertEquals(3, s.d2hBlocks, "3 admitted to the host, 1 and 4 demoted");
        assertEquals(1, s.h2dBlocks, "2 promoted");
        Residency res = ((AbstractSimPolicy) p).residency;
        assertEquals(Residency.DEVICE, res.where(0));
        assertEquals(Residency.DEVICE, res.where(2));
        for (int b : new int[] {1, 3, 4}) {
            assertEquals(Residency.HOST, res.where(b), "block " + b);
        }
    }

    @Test
    void tierMode_losesNothing_dropModeLosesWhatItEvicted() throws IOException {
        SimResult tier = Simulator.run(SimPolicies.create(SPEC), trace(), Budget.blocks(3), null, null);
        SimResult drop = Simulator.run(SimPolicies.create(SPEC + ",mode=drop"), trace(), Budget.blocks(3), null, null);
        assertEquals(0, tier.stats().lost, "evicted blocks wait on the host");
        assertEquals(0, tier.stats().drops);
        assertTrue(drop.stats().lost > 0, "a token evicted at the second window is requested again");
        assertTrue(drop.stats().drops > 0);
        assertEquals(tier.stats().requests, drop.stats().requests);
    }

    @Test
    void streaming_middleIsEvicted_requestsOnItAreLostAndMoveNothing() throws IOException {
        // Prompt 8, blocks of 2, 1 sink + window 5: prefill evicts tokens 1 and 2 (8 - 5 = 3 is the
        // first kept after the sink).
        ArrayTrace t = ArrayTrace.oneLayer(2, 8, 2, new int[] {1, 2}, new int[] {0, 9});
        SimResult r = Simulator.run(SimPolicies.create("streaming:sinks=1,window=5"), t, Budget.blocks(8), null, null);
        SimStats s = r.stats();
        // Step 0: block 0 holds sink 0 (live) and token 1 (evicted): the request on 1 is lost, and so
        // is the one on 2 although its block lives on through token 3. Step 1: 0 hits block 0, 9 is
        // the tail.
        assertEquals(4, s.requests);
        assertEquals(2, s.lost);
        assertEquals(2, s.hits);
        assertEquals(0, s.h2dBlocks);
    }
}

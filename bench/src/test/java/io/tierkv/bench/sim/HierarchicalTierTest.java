package io.tierkv.bench.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.core.Budget;
import java.io.IOException;
import org.junit.jupiter.api.Test;

/**
 * Core's hierarchical policy driving the tiers, by hand. One layer, blocks of one token, prompt 4,
 * budget 3 blocks (capacity 2 besides the tail), window 2 with thresholds CACHE >= 3, NORMAL >= 2,
 * LOW >= 1. A device key is (level rank, heat, last touch); the smallest leaves first.
 *
 * <pre>
 *   prefill  device {0 1}, 2 to the host (ties keep the first come)
 *   s0  admit 3: demote 0 (older touch)         device {1 3}
 *       miss 0: demote 1, fetch 0               device {3 0}   tail 4 hit
 *   s1  admit 4 (heat 1): demote 3 (heat 0)     device {0 4}
 *       hit 0; miss 2: demote 0 (older touch)   device {4 2}
 *       close: 0 stays NORMAL (count 2); 1 2 3 4 -> LOW: demote 2 and 4; 0 waits on the host
 *       and is promoted into the empty device   device {0}
 *   s2  admit 5 (NORMAL)                        device {0 5}
 *       miss 1 (LOW): demote 5 (heat 0 < 2)     device {0 1}
 *       miss 3 (LOW): demote 1 (rank LOW)       device {0 3}
 *   s3  admit 6: demote 3 (LOW)                 device {0 6}   hit 0, tail 7 hit
 *       close: 0 -> LOW, 5 6 -> LOW, 2 4 (LOW, no count) -> EVICT: demote 0 and 6, drop 2 and 4
 *   s4  admit 7 (NORMAL)                        device {7}     2 is lost, tail 8 hit
 * </pre>
 */
class HierarchicalTierTest {
    private static final String SPEC = "hierarchical:window=2,cache=3,normal=2,low=1";

    private static ArrayTrace trace() {
        return ArrayTrace.oneLayer(1, 4, 2, new int[] {0, 4}, new int[] {0, 2}, new int[] {1, 3}, new int[] {0, 7}, new int[] {2, 8});
    }

    @Test
    void hierarchical_handComputed_levelsDriveTiersAndEvictedTokensAreLost() throws IOException {
        SimPolicy p = SimPolicies.create(SPEC);
        SimResult r = Simulator.run(p, trace(), Budget.blocks(3), null, null);
        SimStats s = r.stats();
        assertEquals(10, s.requests);
        assertEquals(5, s.hits);
        assertEquals(3, s.tailHits);
        assertEquals(5, s.misses);
        assertEquals(1, s.lost);
        assertEquals(1, s.lostPositions);
        assertEquals(5, s.h2dBlocks, "four demand fetches and one promotion");
        assertEquals(11, s.d2hBlocks);
        assertEquals(11, s.evictions);
        assertEquals(2, s.drops);
        assertEquals(1, s.prefillD2hBlocks);
        Residency res = ((AbstractSimPolicy) p).residency;
        assertEquals(Residency.DEVICE, res.where(7));
        assertEquals(1, res.deviceBlocks());
        assertEquals(Residency.DROPPED, res.where(2));
        assertEquals(Residency.DROPPED, res.where(4));
        for (int b : new int[] {0, 1, 3, 5, 6}) {
            assertEquals(Residency.HOST, res.where(b), "block " + b);
        }
    }

    @Test
    void nofetch_readsHostBlocksInPlace_onlyPromotionsCopyToTheDevice() throws IOException {
        SimResult fetch = Simulator.run(SimPolicies.create(SPEC), trace(), Budget.blocks(3), null, null);
        SimResult inPlace = Simulator.run(SimPolicies.create("hierarchical-nofetch:window=2,cache=3,normal=2,low=1"), trace(),
                Budget.blocks(3), null, null);
        assertTrue(inPlace.stats().h2dBlocks < fetch.stats().h2dBlocks);
        assertEquals(fetch.stats().lost, inPlace.stats().lost, "levels do not depend on where blocks are");
        assertTrue(inPlace.stats().hits <= fetch.stats().hits);
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

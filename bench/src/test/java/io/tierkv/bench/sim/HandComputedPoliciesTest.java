package io.tierkv.bench.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.tierkv.core.Budget;
import java.io.IOException;
import org.junit.jupiter.api.Test;

/**
 * Every policy on one tiny trace, against counts worked out by hand. One layer, blocks of one token
 * (block b = token b), a prompt of 4 tokens and a budget of 4 blocks: the tail takes one, so the
 * policies have a capacity of 3. Prefill places blocks 0, 1, 2 (token 3 is the tail); each step
 * appends a token, so block {@code 3 + s} is admitted at step s before its requests.
 *
 * <pre>
 *   step  admitted  requests (tail in brackets)
 *   0     3         0 1
 *   1     4         0 2
 *   2     5         1 3
 *   3     6         0 3
 *   4     7         2 [8]
 * </pre>
 */
class HandComputedPoliciesTest {
    private static ArrayTrace trace() {
        return ArrayTrace.oneLayer(1, 4, 2, new int[] {0, 1}, new int[] {0, 2}, new int[] {1, 3}, new int[] {0, 3}, new int[] {2, 8});
    }

    private static SimPolicy run(SimPolicy policy, SimResult[] out) throws IOException {
        FutureIndex future = FutureIndex.build(trace());
        out[0] = Simulator.run(policy, trace(), Budget.blocks(4), future, null);
        return policy;
    }

    private static void assertDevice(SimPolicy p, int... blocks) {
        Residency r = ((AbstractSimPolicy) p).residency;
        StringBuilder on = new StringBuilder();
        for (int b = 0; b < 9; b++) {
            if (r.where(b) == Residency.DEVICE) {
                on.append(b).append(' ');
            }
        }
        StringBuilder expected = new StringBuilder();
        for (int b : blocks) {
            expected.append(b).append(' ');
        }
        assertEquals(expected.toString(), on.toString(), "blocks on the device");
    }

    /**
     * LRU, most recent first. s0: admit 3 evicts 0 -> [3 2 1]; miss 0 evicts 1 -> [0 3 2];
     * miss 1 evicts 2 -> [1 0 3]. s1: admit 4 evicts 3 -> [4 1 0]; hit 0 -> [0 4 1]; miss 2 evicts 1
     * -> [2 0 4]. s2: admit 5 evicts 4 -> [5 2 0]; miss 1 evicts 0 -> [1 5 2]; miss 3 evicts 2 ->
     * [3 1 5]. s3: admit 6 evicts 5 -> [6 3 1]; miss 0 evicts 1 -> [0 6 3]; hit 3 -> [3 0 6].
     * s4: admit 7 evicts 6 -> [7 3 0]; miss 2 evicts 0 -> [2 7 3]; tail hit.
     */
    @Test
    void lru_handComputed_sevenMissesTwelveDemotions() throws IOException {
        SimResult[] r = new SimResult[1];
        SimPolicy p = run(new LruPolicy(), r);
        SimStats s = r[0].stats();
        assertEquals(10, s.requests);
        assertEquals(3, s.hits);
        assertEquals(1, s.tailHits);
        assertEquals(7, s.misses);
        assertEquals(7, s.h2dBlocks);
        assertEquals(12, s.d2hBlocks);
        assertEquals(12, s.evictions);
        assertEquals(0, s.prefillD2hBlocks);
        assertDevice(p, 2, 3, 7);
    }

    /**
     * Belady. Request stream (tail excluded) r0..r8 = 0 1 | 0 2 | 1 3 | 0 3 | 2. Prefill keeps 0 1 2.
     * s0: admitted 3 (next r5) is used later than every resident (2 is next used at r3) -> bypass to
     * the host; hits 0 (next r2), 1 (next r4). s1: 4 is never used -> bypass; hits 0 (r6), 2 (r8).
     * s2: 5 -> bypass; hit 1 (never again); miss 3 (next r7): 1 is furthest -> demote 1, fetch 3.
     * s3: 6 -> bypass; hits 0 and 3. s4: 7 -> bypass; hit 2; tail hit.
     */
    @Test
    void clairvoyant_handComputed_oneMissAndBypasses() throws IOException {
        SimResult[] r = new SimResult[1];
        SimPolicy p = run(new ClairvoyantPolicy(), r);
        SimStats s = r[0].stats();
        assertEquals(10, s.requests);
        assertEquals(9, s.hits);
        assertEquals(1, s.misses);
        assertEquals(1, s.h2dBlocks);
        assertEquals(6, s.d2hBlocks, "five new blocks bypassed to the host, one demotion");
        assertDevice(p, 0, 2, 3);
    }

    /**
     * S3-FIFO with capacity 3: small holds 1 (10%, at least one), main 2, ghost the last 2 ids.
     * Prefill: S = [0 1 2]. s0: admit 3 ghosts 0 (S = [1 2 3]); miss 0 ghosts 1 and, 0 being a
     * ghost, goes to M = [0]; miss 1 ghosts 2 and 1 goes to M = [0 1], S = [3]. s1: admit 4 ghosts 3,
     * S = [4]; hit 0 (freq 1); miss 2 ghosts 4; 2 is no longer a ghost (3 and 4 came after) -> S = [2].
     * s2: admit 5 ghosts 2, S = [5]; hit 1 (freq 1); miss 3 ghosts 5 -> S = [3]. s3: admit 6 ghosts
     * 3, S = [6]; hit 0 (freq 2); miss 3: ghosts 6, 3 is a ghost -> M = [0 1 3]. s4: admit 7: S is
     * empty so M evicts: 0 (freq 2 -> 1) and 1 (1 -> 0) go round, 3 (freq 0) leaves; S = [7];
     * miss 2 ghosts 7 -> S = [2]; tail hit.
     */
    @Test
    void s3fifo_handComputed_ghostHitsGoToMain() throws IOException {
        SimResult[] r = new SimResult[1];
        S3FifoPolicy p = (S3FifoPolicy) run(S3FifoPolicy.create(io.tierkv.core.policy.PolicyOptions.none("s3fifo")), r);
        SimStats s = r[0].stats();
        assertEquals(10, s.requests);
        assertEquals(4, s.hits);
        assertEquals(6, s.misses);
        assertEquals(6, s.h2dBlocks);
        assertEquals(11, s.d2hBlocks);
        assertDevice(p, 0, 1, 2);
        assertEquals(2, p.queueOf(0), "0 in main");
        assertEquals(2, p.queueOf(1), "1 in main");
        assertEquals(1, p.queueOf(2), "2 in small");
    }
}

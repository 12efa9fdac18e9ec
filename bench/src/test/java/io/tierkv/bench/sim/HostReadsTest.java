package io.tierkv.bench.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.tierkv.core.Budget;
import io.tierkv.model.generate.HostRead;
import java.io.IOException;
import org.junit.jupiter.api.Test;

/**
 * The simulator's host read model on {@link HierarchicalTierTest}'s first trace (one layer, blocks of one
 * token, prompt 4, budget 3 blocks), counted before each step's requests are served:
 *
 * <pre>
 *   s0  tail 4, host {2 3}: exact reads 2; requests 0 (device), 4 (tail)
 *   s1  tail 5, host {1 2 3} (4 admitted, 1 demoted): exact reads 3; requests 0, 2 (host)
 * </pre>
 */
class HostReadsTest {
    private static SimResult run(HostRead mode) throws IOException {
        return Simulator.run(SimPolicies.create("hierarchical:window=2,cache=3,normal=2,low=1"),
                ArrayTrace.oneLayer(1, 4, 2, new int[] {0, 4}, new int[] {0, 2}), Budget.blocks(3), null, null, mode);
    }

    @Test
    void exact_readsEveryHostBlockEveryStep() throws IOException {
        SimResult r = run(HostRead.EXACT);
        assertEquals(5, r.stats().hostBlocksExact);
        assertEquals(5, r.stats().hostBlocksRead);
        assertEquals(1.0, SimMetric.HOST_READ_FRACTION.of(r));
        assertEquals(5.0 * r.blockBytes() / 2, SimMetric.HOST_BYTES_READ_PER_TOKEN.of(r));
    }

    @Test
    void digest_readsAtMostNHostBlocks_andCountsSkippedRequests() throws IOException {
        SimResult one = run(HostRead.digest(1));
        assertEquals(5, one.stats().hostBlocksExact, "same residency: the policy sees the same requests");
        assertEquals(2, one.stats().hostBlocksRead, "one block per step");
        assertEquals(0, one.stats().skippedRequests, "one host block requested, one read");
        assertEquals(0.4, (double) SimMetric.HOST_READ_FRACTION.of(one), 1e-12);
        SimResult many = run(HostRead.digest(8));
        assertEquals(5, many.stats().hostBlocksRead, "N above the host blocks: every host block");
    }

    @Test
    void perHead_readsItsSlicesInBlocksWorth_withOneKvHeadASliceIsABlock() throws IOException {
        SimResult one = run(HostRead.parse("digest:select=head,slices=1"));
        assertEquals(5, one.stats().hostBlocksExact);
        assertEquals(2, one.stats().hostBlocksRead, "one slice of the trace's one KV head per step");
        assertEquals(5, run(HostRead.parse("digest:select=head,slices=8")).stats().hostBlocksRead, "the cap above the host blocks");
    }
}

package io.tierkv.model.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.core.DType;
import io.tierkv.core.KvLayout;
import io.tierkv.core.placement.PlacementConfig;
import io.tierkv.core.policy.KvPolicy;
import io.tierkv.core.policy.Policies;
import io.tierkv.core.policy.PolicyContext;
import io.tierkv.tiering.Sequence;
import io.tierkv.tiering.TierConfig;
import io.tierkv.tiering.TierDefaults;
import io.tierkv.tiering.TierManager;
import org.junit.jupiter.api.Test;

class PromptRowsTest {
    private static final int LAYERS = 2;
    private static final int HEADS = 2;
    private static final int BLOCK = 4;

    @Test
    void dense_readsThePolicysRowsAndThePriorQueries_theEarlierFirst() {
        int p = 2000; // 2000 / 32 = 62 prior queries, more than SnapKV's 32-row window
        PromptRows snap = PromptRows.dense(Policies.create("snapkv"), p, LAYERS, HEADS, BLOCK);
        assertEquals(p - 32, snap.policyFrom());
        assertEquals(p - PlacementConfig.priorQueries(p), snap.priorFrom());
        assertEquals(p - 62, snap.first());
        assertEquals(62, PromptRows.queryRows(Policies.create("snapkv"), p));
        assertFalse(snap.reads(p - 63));
        assertTrue(snap.reads(p - 62));
        assertTrue(snap.reads(p - 1));
        assertFalse(snap.reads(p), "past the prompt");

        PromptRows full = PromptRows.dense(Policies.create("full"), 20, LAYERS, HEADS, BLOCK);
        assertEquals(20, full.policyFrom(), "full observes no prompt row");
        assertEquals(0, full.priorFrom(), "a prompt shorter than 32 tokens: every row seeds the placement");
    }

    @Test
    void everyRow_showsAnAttentionReadingPolicyEveryRow_andSeedsNothing() {
        PromptRows hier = PromptRows.everyRow(Policies.create("hierarchical"), 40, LAYERS, HEADS, BLOCK);
        assertEquals(0, hier.policyFrom());
        assertEquals(40, hier.priorFrom());
        PromptRows full = PromptRows.everyRow(Policies.create("full"), 40, LAYERS, HEADS, BLOCK);
        assertEquals(40, full.first(), "full reads no row");
        assertFalse(full.reads(0));
    }

    /**
     * A 12-token prompt (3 blocks of 4), every row a prior row: each row's top-k positions count toward their blocks. Rows
     * are built so that the top-k are known: row r puts its mass on positions 0 .. min(r, k - 1) (each head alike).
     */
    @Test
    void countPrior_countsEachRowsTopKPositionsPerBlock_andSeedReachesTheSequence() {
        int p = 12;
        KvPolicy policy = Policies.create("full");
        PromptRows rows = PromptRows.dense(policy, p, LAYERS, HEADS, BLOCK);
        int k = TierDefaults.REQUEST_TOP_K;
        int[] expected = new int[3];
        int stride = p;
        for (int r = 0; r < p; r++) {
            float[] probs = new float[HEADS * stride];
            int top = Math.min(r + 1, k);
            for (int h = 0; h < HEADS; h++) {
                for (int t = 0; t <= r; t++) {
                    probs[h * stride + t] = t < top ? 1f - 0.01f * t : 0f;
                }
            }
            rows.countPrior(0, r, probs, 0, stride);
            for (int t = 0; t < top; t++) {
                expected[t / BLOCK]++;
            }
        }
        rows.countPrior(0, p, new float[HEADS * (p + 1)], 0, p + 1); // past the prompt: ignored
        KvLayout layout = new KvLayout(LAYERS, 1, 8, DType.F32, BLOCK);
        try (TierManager tiers = TierManager.create(TierConfig.cpu(layout, 16, 64));
             Sequence seq = tiers.open(policy, PolicyContext.unbounded(LAYERS, p), 16)) {
            rows.seed(seq);
            assertArrayEquals(expected, seq.priorCounts()[0]);
            assertArrayEquals(new int[3], seq.priorCounts()[1], "layer 1 was given no row");
        }
    }

    @Test
    void seed_withoutPriorRows_leavesTheSequenceUnseeded() {
        KvPolicy policy = Policies.create("hierarchical");
        KvLayout layout = new KvLayout(LAYERS, 1, 8, DType.F32, BLOCK);
        try (TierManager tiers = TierManager.create(TierConfig.cpu(layout, 16, 64));
             Sequence seq = tiers.open(policy, PolicyContext.unbounded(LAYERS, 8), 16)) {
            PromptRows.everyRow(policy, 8, LAYERS, HEADS, BLOCK).seed(seq);
            assertNull(seq.priorCounts());
        }
    }
}

package io.tierkv.tiering;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.core.DType;
import io.tierkv.core.KvLayout;
import io.tierkv.core.policy.Policies;
import org.junit.jupiter.api.Test;

/** One budget unit, tokens per layer, for the policy and the tiers alike. */
class SequenceBudgetTest {
    private static final KvLayout LAYOUT = new KvLayout(3, 2, 4, DType.F32, 16);

    @Test
    void tokensPerLayer_becomeTheBlocksThatHoldThem_plusOneTailBlockPerLayer() {
        SequenceBudget b = SequenceBudget.tokens(40).withHostTokens(33);
        assertEquals(3 * (3 + 1), b.deviceBlocks(LAYOUT), "40 tokens need 3 blocks of 16, plus the tail");
        assertEquals(3 * 3, b.hostBlocks(LAYOUT));
        assertEquals(Integer.MAX_VALUE, SequenceBudget.tokens(40).hostBlocks(LAYOUT));
        assertEquals(40, b.context(LAYOUT, 100).budgetTokens());
        assertEquals(100, b.context(LAYOUT, 100).promptLength());
    }

    @Test
    void openWithABudget_givesThePolicyTokensAndTheTiersBlocks() {
        try (TierManager m = TierManager.create(TierConfig.cpu(LAYOUT, 64, 64));
             Sequence seq = m.open(Policies.create("streaming:sinks=4"), 64, SequenceBudget.tokens(32))) {
            seq.append(64);
            seq.endPrefill();
            seq.step();
            for (int l = 0; l < LAYOUT.layers(); l++) {
                LayerView v = seq.view(l);
                assertTrue(v.deviceCount() <= 3, "32 tokens per layer fit 2 blocks plus the tail: " + v);
            }
            assertEquals(32, seq.keptTokens(), "the policy keeps its budget of tokens per layer");
        }
    }

    @Test
    void impossibleBudgets_areRefusedWithTheirNames() {
        assertEquals("deviceTokens must be > 0 tokens per layer and finite, was 0",
                assertThrows(IllegalArgumentException.class, () -> SequenceBudget.tokens(0)).getMessage());
        assertEquals("hostTokens must be >= 0 tokens per layer, was -1",
                assertThrows(IllegalArgumentException.class, () -> SequenceBudget.tokens(8).withHostTokens(-1)).getMessage());
    }
}

package io.tierkv.model.cuda;

import static org.junit.jupiter.api.Assertions.*;

import io.tierkv.core.memory.MemoryLedger;
import org.junit.jupiter.api.Test;

class TieredStepBookkeepingTest {
    @Test
    void tokensRunToMaxTokens_thenRestart_andNothingLeaks() {
        MemoryLedger.Snapshot before = MemoryLedger.snapshot();
        try (TieredStepBookkeeping step = new TieredStepBookkeeping(4, 256, 4, "full", 100)) {
            assertEquals(156, step.room());
            long builds = step.layerBuilds();
            for (int t = 0; t < 156; t++) {
                assertEquals(100 + t, step.token());
            }
            assertTrue(step.layerBuilds() - builds < 156 * 4 / 4, "most tokens keep their tables: " + (step.layerBuilds() - builds));
            IllegalStateException e = assertThrows(IllegalStateException.class, step::token);
            assertTrue(e.getMessage().contains("restart()"), e.getMessage());
            step.restart();
            assertEquals(100, step.token());
        }
        before.assertNoLeaks();
    }

    /** Under hierarchical each layer's drawn top-k reaches the policy and the placement: popular host blocks come back. */
    @Test
    void hierarchical_countsTheDrawnTopK_andPromotesThePopularBlocks() {
        MemoryLedger.Snapshot before = MemoryLedger.snapshot();
        try (TieredStepBookkeeping step = new TieredStepBookkeeping(4, 512, 4, "hierarchical", 200);
             TieredStepBookkeeping blind = new TieredStepBookkeeping(4, 512, 4, "full", 200)) {
            for (int t = 0; t < 300; t++) {
                step.token();
                blind.token();
            }
            assertTrue(step.promotedBlocks() > 0, "popular blocks were promoted: " + step.promotedBlocks());
            assertEquals(0, blind.promotedBlocks(), "full observes nothing here: nothing comes back");
            assertTrue(step.phases().matches("append [0-9.]+ us, observe [0-9.]+ us, step [0-9.]+ us per token; copy waits [0-9.]+ us"),
                    step.phases());
        }
        before.assertNoLeaks();
    }

    @Test
    void anUnknownPolicyOrAPromptPastMaxTokens_isRefusedByName() {
        MemoryLedger.Snapshot before = MemoryLedger.snapshot();
        IllegalArgumentException policy = assertThrows(IllegalArgumentException.class,
                () -> new TieredStepBookkeeping(2, 64, 2, "no-such-policy", 10));
        assertTrue(policy.getMessage().contains("no-such-policy"), policy.getMessage());
        IllegalArgumentException prompt = assertThrows(IllegalArgumentException.class,
                () -> new TieredStepBookkeeping(2, 64, 2, "full", 64));
        assertTrue(prompt.getMessage().contains("maxTokens 64"), prompt.getMessage());
        before.assertNoLeaks();
    }
}

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

package io.tierkv.tiering;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.core.memory.MemoryLedger;
import io.tierkv.tiering.copy.CopyFaults;
import org.junit.jupiter.api.Test;

/**
 * {@link Sequence#holdHostBudgetUntilEndPrefill}: a prompt appended token by token through the tiers, with a host budget
 * of one block, frees blocks as it goes; held, it frees none until its end, and then as many as the budget needs, every
 * byte of the blocks kept intact. One layer, blocks of 4 tokens (see {@link TierManagerTest}).
 */
class HostBudgetHoldTest {
    /** Appends a 40-token prompt token by token; returns the blocks freed before {@code endPrefill}. */
    private static long prompt(KvHarness h, TierManager m) {
        for (int t = 0; t < 40; t++) {
            h.append(1);
        }
        m.awaitCopies();
        return m.stats().droppedBlocks();
    }

    @Test
    void unheld_freesDuringThePrompt_held_freesOnlyAtItsEnd_downToTheBudget() {
        MemoryLedger.Snapshot ledger = MemoryLedger.snapshot();
        try (TierManager m = TierManagerTest.manager(16, 16, CopyFaults.NONE)) {
            KvHarness h = new KvHarness(m, 3, 1);
            assertTrue(prompt(h, m) > 0, "without the hold the host budget frees blocks while the prompt goes in");
            h.sequence.close();
        }
        try (TierManager m = TierManagerTest.manager(16, 16, CopyFaults.NONE)) {
            KvHarness h = new KvHarness(m, 3, 1);
            h.sequence.holdHostBudgetUntilEndPrefill();
            assertEquals(0, prompt(h, m), "held: nothing freed before the prompt's end");
            assertEquals(40, h.sequence.keptTokens(), "every prompt token still attended");
            assertTrue(m.stats().hostBlocks() > 1, "the host holds more than its budget meanwhile: " + m.stats().summary());
            h.verify();
            h.sequence.endPrefill();
            m.awaitCopies();
            assertTrue(m.stats().droppedBlocks() > 0, "the prompt's end frees what the budget has no room for");
            assertTrue(m.stats().hostBlocks() <= 1, "down to the budget: " + m.stats().summary());
            h.verify();
            m.checkInvariants();
            assertThrows(IllegalStateException.class, h.sequence::holdHostBudgetUntilEndPrefill, "after the prompt: refused");
            h.sequence.close();
        }
        ledger.assertNoLeaks();
    }
}

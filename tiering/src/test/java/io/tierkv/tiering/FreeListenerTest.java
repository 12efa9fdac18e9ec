package io.tierkv.tiering;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import io.tierkv.core.Tier;
import io.tierkv.core.memory.MemoryLedger;
import io.tierkv.tiering.arena.SlotArena;
import io.tierkv.tiering.copy.CopyFaults;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@link Sequence.FreeListener}: the seam through which the remote tier spills a block before the tiers free it.
 * One layer, blocks of 4 tokens (see {@link TierManagerTest}).
 */
class FreeListenerTest {
    @Test
    void hostBudgetFree_tellsTheListenerFirst_whileTheBlocksBytesAreStillReadable() {
        MemoryLedger.Snapshot ledger = MemoryLedger.snapshot();
        try (TierManager m = TierManagerTest.manager(8, 8, CopyFaults.NONE)) {
            KvHarness h = new KvHarness(m, 2, 1);
            List<String> told = new ArrayList<>();
            h.sequence.onFree((seq, layer, block) -> {
                Tier tier = seq.tier(layer, block);
                assertNotEquals(Tier.NONE, tier, "told before the block lost its memory");
                SlotArena arena = tier == Tier.DEVICE ? m.deviceArena() : m.hostArena();
                byte[] first = new byte[1];
                arena.slab().read((long) seq.slot(layer, block) * m.slotBytes(), first, 0, 1);
                // the first K byte of the block's first position, as the harness wrote it
                assertEquals(KvHarness.value(seq.id(), layer, block * 4, 0, 0), first[0], "the block's bytes are intact");
                told.add(layer + ":" + block);
            });
            h.append(16);
            h.sequence.endPrefill();
            m.awaitCopies();
            // as in TierManagerTest: the host holds one of blocks 1 and 2, so block 1 is freed
            assertEquals(Tier.NONE, h.sequence.tier(0, 1));
            assertEquals(List.of("0:1"), told);
            h.verify();
            m.checkInvariants();
        }
        ledger.assertNoLeaks();
    }

    @Test
    void rowsBeforeFirstMask_areTheRowsWrittenBeforeTheFirstFree() {
        try (TierManager m = TierManagerTest.manager(8, 8, CopyFaults.NONE)) {
            KvHarness h = new KvHarness(m, 2, 1);
            h.append(16);
            assertEquals(Integer.MAX_VALUE, h.sequence.rowsBeforeFirstMask(), "nothing masked yet");
            h.sequence.endPrefill(); // frees block 1 (as above): the 16 rows were written before
            assertEquals(16, h.sequence.rowsBeforeFirstMask());
            h.append(8);
            assertEquals(16, h.sequence.rowsBeforeFirstMask(), "the first mask stays the first");
        }
    }

    @Test
    void withoutAListener_freesAsBefore() {
        try (TierManager m = TierManagerTest.manager(8, 8, CopyFaults.NONE)) {
            KvHarness h = new KvHarness(m, 2, 1);
            h.sequence.onFree(null);
            h.append(16);
            h.sequence.endPrefill();
            m.awaitCopies();
            assertEquals(1, h.sequence.droppedBlocks());
            m.checkInvariants();
        }
    }
}

package io.tierkv.model.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class KvBlockTableTest {
    @Test
    void appends_fillBlocksInOrder_andOpenANewSlotEveryBlockSizeTokens() {
        KvBlockTable t = new KvBlockTable(4, 3);
        // after 6 appends: entry 0 -> slot 0 (4 valid rows), entry 1 -> slot 1 (2 valid rows)
        for (int i = 0; i < 6; i++) {
            assertEquals(i, t.append());
            assertEquals(i % 4 == 0, t.opensBlock(i));
        }
        assertEquals(6, t.tokens());
        assertEquals(2, t.blocks());
        assertEquals(0, t.slot(0));
        assertEquals(1, t.slot(1));
        assertEquals(4, t.validRows(0));
        assertEquals(2, t.validRows(1));
        assertEquals(1, t.block(5));
        assertEquals(1, t.row(5));
        assertFalse(t.opensBlock(5));
    }

    @Test
    void aFullTable_refusesTheNextBlock_withTheCapacityNamed() {
        KvBlockTable t = new KvBlockTable(2, 2);
        for (int i = 0; i < 4; i++) {
            t.append();
        }
        IllegalStateException e = assertThrows(IllegalStateException.class, t::append);
        assertTrue(e.getMessage().contains("2 blocks of 2 tokens"), e.getMessage());
    }

    @Test
    void reset_freesEverySlot_andStartsAgainAtSlotZero() {
        KvBlockTable t = new KvBlockTable(2, 2);
        for (int i = 0; i < 3; i++) {
            t.append();
        }
        t.reset();
        assertEquals(0, t.tokens());
        assertEquals(0, t.blocks());
        assertEquals(0, t.append());
        assertEquals(0, t.slot(0));
        assertTrue(t.opensBlock(0));
    }

    @Test
    void slotOfAnEntryPastTheEnd_isAnError() {
        KvBlockTable t = new KvBlockTable(4, 2);
        t.append();
        assertThrows(IllegalArgumentException.class, () -> t.slot(1));
        assertThrows(IllegalArgumentException.class, () -> t.slot(-1));
    }

    @Test
    void blocksFor_roundsUp() {
        assertEquals(0, KvBlockTable.blocksFor(0, 16));
        assertEquals(1, KvBlockTable.blocksFor(1, 16));
        assertEquals(1, KvBlockTable.blocksFor(16, 16));
        assertEquals(2, KvBlockTable.blocksFor(17, 16));
        assertThrows(IllegalArgumentException.class, () -> KvBlockTable.blocksFor(1L << 40, 1));
    }
}

package io.tierkv.core.placement;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.tierkv.core.Level;
import org.junit.jupiter.api.Test;

/**
 * The decayed counts over long runs: counts are kept scaled by {@code e^(t / tau)} and brought back every 300 time
 * constants. With tau 1 over 4,000 steps that happens 13 times; long after, the blocks read last still rank first,
 * an old read still ranks below a recent one, and a fresh read still beats a read seven time constants old.
 */
class PlacementDecayTest {

    @Test
    void countsBroughtBackEvery300TimeConstants_keepEveryOrder() {
        Placement p = new Placement(new PlacementConfig(1, 0, 1, 0.2, 0), TierMode.TIER, 1, 2, Integer.MAX_VALUE);
        Moves moves = new Moves();
        for (int b = 0; b < 4; b++) {
            p.admit(0, b, Level.NORMAL_CODE, moves);
        }
        // blocks 0 and 1 on the device, 2 and 3 on the host
        assertEquals(Placement.DEVICE, p.where(0, 0));
        assertEquals(Placement.HOST, p.where(0, 2));
        for (int s = 0; s < 4000; s++) {
            // block 2 is read every 7 steps, block 3 every 11, block 0 once at the very start
            if (s % 7 == 0) {
                p.request(0, 2, moves);
            }
            if (s % 11 == 0) {
                p.request(0, 3, moves);
            }
            if (s == 0) {
                p.request(0, 0, moves);
            }
            p.step();
            p.checkInvariants();
        }
        // at step 3997 block 2 was read (3997 = 7 * 571) and at 3993 block 3 (11 * 363): both on the device now,
        // their counts many rescalings after block 0's, which left for the host, and block 1 (never read) with it
        assertEquals(Placement.DEVICE, p.where(0, 2));
        assertEquals(Placement.DEVICE, p.where(0, 3));
        assertEquals(Placement.HOST, p.where(0, 0));
        assertEquals(Placement.HOST, p.where(0, 1));
        // a read of block 0 now outranks block 3, read 7 steps ago at tau 1
        p.request(0, 0, moves);
        assertEquals(Placement.DEVICE, p.where(0, 0));
        assertEquals(Placement.HOST, p.where(0, 3));
        p.checkInvariants();
    }

    /**
     * One device block. Block 0 was read every step for 200 steps, then attention moves to block 1, read every step:
     * with counts capped at 3 block 1 takes the device within 4 steps; uncapped, block 0's count of ~16 keeps it there
     * for about 16 ln 2 = 11 steps. A cap from tau 64 on leaves this tau-16 memory uncapped.
     */
    @Test
    void aCappedCount_letsAFormerFavouriteGoSoon() {
        assertEquals(Placement.DEVICE, afterMove(3, 1, 4));
        assertEquals(Placement.HOST, afterMove(Double.MAX_VALUE, 1, 4));
        assertEquals(Placement.DEVICE, afterMove(Double.MAX_VALUE, 1, 14));
        assertEquals(Placement.HOST, afterMove(3, 64, 4));
    }

    /** Where block 1 is after {@code steps} steps of reads, with counts capped at {@code cap} from tau {@code capFromTau}. */
    private static byte afterMove(double cap, double capFromTau, int steps) {
        PlacementConfig config = new PlacementConfig(16, 0, 1, 0.2, 0, 4, 1, 32, 0.5, 0, 4096, 0, 0, 0, 1, 0, cap, capFromTau);
        Placement p = new Placement(config, TierMode.TIER, 1, 1, Integer.MAX_VALUE);
        Moves moves = new Moves();
        p.admit(0, 0, Level.NORMAL_CODE, moves);
        p.admit(0, 1, Level.NORMAL_CODE, moves);
        for (int s = 0; s < 200; s++) {
            p.request(0, 0, moves);
            p.step();
        }
        for (int s = 0; s < steps; s++) {
            p.request(0, 1, moves);
            p.step();
        }
        p.checkInvariants();
        return p.where(0, 1);
    }

    @Test
    void aCountCapOfZero_isRejected() {
        assertThrows(IllegalArgumentException.class, () -> new PlacementConfig(16, 0, 1, 0.2, 0, 4, 1, 32, 0.5, 0, 4096, 0, 0, 0, 1, 0, 0, 1));
        assertThrows(IllegalArgumentException.class, () -> new PlacementConfig(16, 0, 1, 0.2, 0, 4, 1, 32, 0.5, 0, 4096, 0, 0, 0, 1, 0, 3, 0));
        assertThrows(IllegalArgumentException.class, () -> new PlacementConfig(16, 0, 1, 0.2, 0, 4, 1, 32, 0.5, 0, 4096, 0, 0, 0, 0, 0, 3, 1));
    }

    /**
     * One device block, held by block 0 after one request of one position. Block 1's request of one position ties it
     * and stays on the host; its request of three positions (three of the query's top-k in one block) outranks it.
     */
    @Test
    void aRequestCountsItsPositions() {
        Placement p = new Placement(new PlacementConfig(16, 0, 1, 0.2, 0), TierMode.TIER, 1, 1, Integer.MAX_VALUE);
        Moves moves = new Moves();
        p.admit(0, 0, Level.NORMAL_CODE, moves);
        p.admit(0, 1, Level.NORMAL_CODE, moves);
        p.request(0, 0, 0, 1, moves);
        p.request(0, 1, 0, 1, moves);
        assertEquals(Placement.DEVICE, p.where(0, 0));
        assertEquals(Placement.HOST, p.where(0, 1));
        p.request(0, 1, 0, 3, moves);
        assertEquals(Placement.DEVICE, p.where(0, 1));
        assertThrows(IllegalArgumentException.class, () -> p.request(0, 1, 0, 0, moves));
        p.checkInvariants();
    }
}

package io.tierkv.core.placement;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.core.Level;
import org.junit.jupiter.api.Test;

/** The adaptive time constant of {@link Placement} on small hand-made request streams (one layer, four device blocks). */
class PlacementAdaptTest {
    private static final int CAPACITY = 4;

    /**
     * tau 16 to start, candidates 4, 16, 64, 256, a choice every 8 steps, shadows of the whole device; counts not
     * capped, so the choice of memory alone decides how fast an old working set gives way.
     */
    private static PlacementConfig adaptive(int choices) {
        return sampled(choices, 4096);
    }

    private static PlacementConfig sampled(int choices, int shadowBlocks) {
        return new PlacementConfig(16, 0, 1, 0.2, 0, 4, choices, 8, 0.5, 0, shadowBlocks, 0, 0, 0, 1, 0, Double.MAX_VALUE, 1);
    }

    /** Requests of one step for one layer; counts those that found their block on the host. */
    private static int step(Placement p, Moves moves, int... blocks) {
        int misses = 0;
        for (int b : blocks) {
            misses += p.where(0, b) == Placement.HOST ? 1 : 0;
            p.request(0, b, moves);
        }
        p.step();
        moves.clear();
        return misses;
    }

    private static Placement placed(PlacementConfig config, int blocks) {
        Placement p = new Placement(config, TierMode.TIER, 1, CAPACITY, Integer.MAX_VALUE);
        Moves moves = new Moves();
        for (int b = 0; b < blocks; b++) {
            p.admit(0, b, Level.NORMAL_CODE, moves);
        }
        return p;
    }

    /**
     * Working sets of four blocks that change every 24 steps, each block read every step: the blocks of the last
     * phase hold large counts, and only a short memory lets the new set displace them at once.
     */
    private static int phases(Placement p) {
        Moves moves = new Moves();
        int misses = 0;
        for (int phase = 0; phase < 10; phase++) {
            int b = 4 * phase;
            for (int s = 0; s < 24; s++) {
                misses += step(p, moves, b, b + 1, b + 2, b + 3);
            }
        }
        p.checkInvariants();
        return misses;
    }

    @Test
    void workingSetsThatChangeQuickly_chooseTheShortTimeConstant() {
        Placement p = placed(adaptive(4), 40);
        int misses = phases(p);
        assertEquals(4.0, p.tau());
        assertTrue(p.switches() >= 1);

        Placement longMemory = placed(adaptive(1).withTaus(256, 1), 40);
        int longMisses = phases(longMemory);
        assertTrue(misses * 2 < longMisses, "adaptive " + misses + " misses, tau 256 " + longMisses);
    }

    /** Shadows of two blocks that follow a hashed half of the blocks still see that the short memory misses less. */
    @Test
    void sampledShadows_stillChooseTheShortTimeConstant() {
        Placement p = placed(sampled(4, 2), 40);
        phases(p);
        assertEquals(4.0, p.tau());
    }

    /**
     * Four blocks each read every 32 steps (one every 8), and every step a block read once and never again: only a
     * memory longer than the gap keeps the four on the device against the one-off reads.
     */
    @Test
    void popularBlocksWithLongGaps_chooseALongTimeConstant() {
        int steps = 2000;
        Placement p = placed(adaptive(4), 4 + steps);
        Moves moves = new Moves();
        int hotMisses = 0;
        for (int s = 0; s < steps; s++) {
            int oneOff = 4 + s;
            if (s % 8 == 0) {
                int hot = (s / 8) % 4;
                hotMisses += s >= steps / 2 && p.where(0, hot) == Placement.HOST ? 1 : 0;
                step(p, moves, hot, oneOff);
            } else {
                step(p, moves, oneOff);
            }
        }
        p.checkInvariants();
        assertTrue(p.tau() >= 64, "chose tau " + p.tau());
        assertEquals(0, hotMisses);
    }

    @Test
    void oneCandidate_neverSwitches() {
        Placement p = placed(adaptive(1), 40);
        phases(p);
        assertEquals(16.0, p.tau());
        assertEquals(0, p.switches());
    }

    @Test
    void candidates_spreadAroundTauByTheFactor() {
        assertArrayEquals(new double[] {4, 16, 64, 256}, adaptive(4).taus(), 1e-12);
        assertArrayEquals(new double[] {4, 16, 64}, adaptive(3).taus(), 1e-12);
        assertArrayEquals(new double[] {16}, adaptive(1).taus(), 1e-12);
        assertThrows(IllegalArgumentException.class, () -> new PlacementConfig(16, 0, 1, 0.2, 0, 1, 3, 8, 0.5, 0, 4096));
        assertThrows(IllegalArgumentException.class, () -> new PlacementConfig(16, 0, 1, 0.2, 0, 4, 0, 8, 0.5, 0, 4096));
    }
}

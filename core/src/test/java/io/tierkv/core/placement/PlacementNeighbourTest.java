package io.tierkv.core.placement;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.core.Level;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The neighbour candidates of {@link Placement} on small hand-made request streams (one layer, four device blocks). */
class PlacementNeighbourTest {
    private static final int CAPACITY = 4;
    private static final int BLOCKS = 64;

    /** Candidates 4, 16, 64, 256 with neighbour twins of weight {@code neighbour} (0: none), a choice every 8 steps. */
    private static PlacementConfig config(double neighbour) {
        return new PlacementConfig(16, 0, 1, 0.2, 0, 4, 4, 8, 0.5, 0, 4096, neighbour, 2, 0.05);
    }

    private static Placement placed(PlacementConfig config) {
        Placement p = new Placement(config, TierMode.TIER, 1, CAPACITY, Integer.MAX_VALUE);
        Moves moves = new Moves();
        for (int b = 0; b < BLOCKS; b++) {
            p.admit(0, b, Level.NORMAL_CODE, moves);
        }
        return p;
    }

    /** One request per step ({@code -1}: none); counts those that found their block on the host. */
    private static int replay(Placement p, int[] stream) {
        Moves moves = new Moves();
        int misses = 0;
        for (int b : stream) {
            if (b >= 0) {
                misses += p.where(0, b) == Placement.HOST ? 1 : 0;
                p.request(0, b, moves);
            }
            p.step();
            moves.clear();
        }
        p.checkInvariants();
        return misses;
    }

    /**
     * Attention reads a passage of four adjacent blocks in order, twice, pauses eight steps, then reads another
     * passage at random.
     */
    private static int[] passages(long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        int[] stream = new int[1600];
        for (int i = 0; i < stream.length; i += 16) {
            int first = 4 * random.nextInt(BLOCKS / 4);
            for (int j = 0; j < 16; j++) {
                stream[i + j] = j < 8 ? first + j % 4 : -1;
            }
        }
        return stream;
    }

    /** Attention reads two scattered blocks (never adjacent ones), four times each, pauses, then moves on. */
    private static int[] scattered(long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        int[] stream = new int[1600];
        for (int i = 0; i < stream.length; i += 16) {
            int[] set = {random.nextInt(16) * 4, random.nextInt(16) * 4 + 2};
            for (int j = 0; j < 16; j++) {
                stream[i + j] = j < 8 ? set[j % 2] : -1;
            }
        }
        return stream;
    }

    @Test
    void passagesOfAdjacentBlocks_chooseTheNeighbourCandidates_andMissLess() {
        int[] stream = passages(7);
        Placement twins = placed(config(0.5));
        int withTwins = replay(twins, stream);
        int plain = replay(placed(config(0)), stream);
        assertTrue(twins.neighboursLive(), "with neighbour candidates " + withTwins + " misses, without " + plain);
        assertTrue(withTwins * 4 < plain * 3, "with neighbour candidates " + withTwins + " misses, without " + plain);
    }

    @Test
    void scatteredBlocks_keepThePlainCandidates() {
        int[] stream = scattered(7);
        Placement twins = placed(config(0.5));
        int withTwins = replay(twins, stream);
        int plain = replay(placed(config(0)), stream);
        assertFalse(twins.neighboursLive());
        assertTrue(withTwins <= plain * 1.1, "with neighbour candidates " + withTwins + " misses, without " + plain);
    }

    @Test
    void withoutNeighbourWeight_noCandidateCountsNeighbours() {
        Placement p = placed(config(0));
        replay(p, passages(3));
        assertFalse(p.neighboursLive());
    }

    @Test
    void aFixedTimeConstant_hasNoTwins() {
        Placement p = placed(new PlacementConfig(16, 0, 1, 0.2, 0, 4, 1, 8, 0.5, 0, 4096, 0.5, 2, 0));
        replay(p, passages(7));
        assertFalse(p.neighboursLive());
        assertEquals(0, p.switches());
    }

    @Test
    void aLargeNeighbourHysteresis_keepsThePlainCandidatesOnPassagesToo() {
        Placement p = placed(new PlacementConfig(16, 0, 1, 0.2, 0, 4, 4, 8, 0.5, 0, 4096, 0.5, 2, 0.99));
        replay(p, passages(7));
        assertFalse(p.neighboursLive());
    }

    @Test
    void negativeNeighbourWeight_orHysteresisOutOfRange_isRejected() {
        assertThrows(IllegalArgumentException.class, () -> config(-0.1));
        assertThrows(IllegalArgumentException.class, () -> new PlacementConfig(16, 0, 1, 0.2, 0, 4, 4, 8, 0.5, 0, 4096, 0.02, 2, 1));
        assertThrows(IllegalArgumentException.class, () -> new PlacementConfig(16, 0, 1, 0.2, 0, 4, 4, 8, 0.5, 0, 4096, 0.02, -1, 0));
    }

    /**
     * With the twins live and no far share, a request far from its block's end (10 tokens before it, past the reach
     * of 6) credits nothing to the next block, which stays on the host; requests at the block's end promote it.
     */
    @Test
    void onlyARequestNearItsBlocksEnd_creditsTheNextBlock() {
        Placement p = placed(new PlacementConfig(16, 0, 1, 0.2, 0, 4, 4, 8, 0.5, 0, 4096, 0.5, 2, 0.05, 6, 0, 3, 64));
        replay(p, passages(7));
        assertTrue(p.neighboursLive());
        int b = -1;
        for (int i = 0; i + 1 < BLOCKS && b < 0; i++) {
            b = p.where(0, i) == Placement.DEVICE && p.where(0, i + 1) == Placement.HOST ? i : -1;
        }
        assertTrue(b >= 0, "a device block followed by a host block");
        Moves moves = new Moves();
        for (int s = 0; s < 8; s++) {
            p.request(0, b, 10, moves);
            p.step();
        }
        assertEquals(Placement.HOST, p.where(0, b + 1), "credited from mid-block requests");
        for (int s = 0; s < 8; s++) {
            p.request(0, b, 0, moves);
            p.step();
        }
        assertEquals(Placement.DEVICE, p.where(0, b + 1), "not credited from requests at the block's end");
        p.checkInvariants();
    }
}

package io.tierkv.core.block;

import static io.tierkv.core.Level.CACHE_CODE;
import static io.tierkv.core.Level.EVICT_CODE;
import static io.tierkv.core.Level.LOW_CODE;
import static io.tierkv.core.Level.NORMAL_CODE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.core.Level;
import io.tierkv.core.Transitions;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Block levels from token levels, with the expected state drawn after each operation (blocks of 4
 * tokens; C N L E for the levels, a block's letter after the bar).
 */
class BlockTableTest {
    private final Transitions out = new Transitions();

    /** Applies one token transition and returns the block transitions it caused. */
    private String move(BlockTable table, int layer, int token, byte from, byte to) {
        Transitions t = new Transitions();
        t.add(layer, token, from, to);
        out.clear();
        table.apply(t, out);
        table.checkInvariants();
        return out.toString();
    }

    private static String levels(BlockTable table, int layer) {
        StringBuilder sb = new StringBuilder();
        for (int b = 0; b < table.blocks(); b++) {
            sb.append(Level.of(table.level(layer, b)).name().charAt(0));
        }
        return sb.toString();
    }

    @Test
    void append_createsBlocksAtNormal_withoutTransitions() {
        BlockTable table = new BlockTable(1, 4);
        table.append(10, NORMAL_CODE, out);
        // tokens 0..3 | 4..7 | 8 9 (tail)
        assertTrue(out.isEmpty());
        assertEquals(3, table.blocks());
        assertEquals(2, table.tailBlock());
        assertTrue(table.isFull(1));
        assertFalse(table.isFull(2));
        assertEquals(2, table.blockOf(9));
        assertEquals("NNN", levels(table, 0));
        assertEquals(2, table.tokensAt(0, 2, Level.NORMAL));
        table.checkInvariants();
    }

    @Test
    void blockLevel_isThatOfItsMostPopularLiveToken() {
        BlockTable table = new BlockTable(1, 4);
        table.append(8, NORMAL_CODE, out);
        // block 0: N N N N -> C N N N
        assertEquals("[0:0 NORMAL->CACHE]", move(table, 0, 1, NORMAL_CODE, CACHE_CODE));
        // C L N N: still CACHE, nothing to report
        assertEquals("[]", move(table, 0, 2, NORMAL_CODE, LOW_CODE));
        // N L N N: back to NORMAL
        assertEquals("[0:0 CACHE->NORMAL]", move(table, 0, 1, CACHE_CODE, NORMAL_CODE));
        // L L L L: LOW, once, when the last NORMAL token leaves
        assertEquals("[]", move(table, 0, 0, NORMAL_CODE, LOW_CODE));
        assertEquals("[]", move(table, 0, 1, NORMAL_CODE, LOW_CODE));
        assertEquals("[0:0 NORMAL->LOW]", move(table, 0, 3, NORMAL_CODE, LOW_CODE));
        // E L L L: a live LOW token keeps it LOW
        assertEquals("[]", move(table, 0, 0, LOW_CODE, EVICT_CODE));
        assertEquals("LN", levels(table, 0));
        assertEquals(1, table.tokensAt(0, 0, Level.EVICT));
        assertEquals(3, table.tokensAt(0, 0, Level.LOW));
    }

    @Test
    void fullBlock_allTokensEvicted_isEvictOnce() {
        BlockTable table = new BlockTable(1, 4);
        table.append(8, NORMAL_CODE, out);
        // block 1: N N N N -> E E E N (still NORMAL) -> E E E E (EVICT, reported once)
        assertEquals("[]", move(table, 0, 4, NORMAL_CODE, EVICT_CODE));
        assertEquals("[]", move(table, 0, 5, NORMAL_CODE, EVICT_CODE));
        assertEquals("[]", move(table, 0, 6, NORMAL_CODE, EVICT_CODE));
        assertEquals("[0:1 NORMAL->EVICT]", move(table, 0, 7, NORMAL_CODE, EVICT_CODE));
        assertEquals("NE", levels(table, 0));
        // appending more tokens does not touch the freed block
        out.clear();
        table.append(5, NORMAL_CODE, out);
        assertTrue(out.isEmpty());
        assertEquals("NENN", levels(table, 0));
    }

    @Test
    void partialTailBlock_isNeverFreed_evenWithEveryTokenEvicted() {
        BlockTable table = new BlockTable(1, 4);
        table.append(6, NORMAL_CODE, out);
        // tail block 1 holds 4 5: N N -> L L -> E E; the next token goes there, so it stays (at LOW)
        assertEquals("[]", move(table, 0, 4, NORMAL_CODE, LOW_CODE));
        assertEquals("[0:1 NORMAL->LOW]", move(table, 0, 5, NORMAL_CODE, LOW_CODE));
        assertEquals("[]", move(table, 0, 4, LOW_CODE, EVICT_CODE));
        assertEquals("[]", move(table, 0, 5, LOW_CODE, EVICT_CODE));
        assertEquals(LOW_CODE, table.level(0, 1));
        // a NORMAL token arrives in the tail: the block rises to NORMAL, reported by append
        out.clear();
        table.append(1, NORMAL_CODE, out);
        assertEquals("[0:1 LOW->NORMAL]", out.toString());
        // fill the block and evict the rest: now full and empty -> EVICT
        out.clear();
        table.append(1, NORMAL_CODE, out);
        assertTrue(out.isEmpty());
        move(table, 0, 6, NORMAL_CODE, EVICT_CODE);
        assertEquals("[0:1 NORMAL->EVICT]", move(table, 0, 7, NORMAL_CODE, EVICT_CODE));
    }

    @Test
    void javadocPicture_holds() {
        //   levels  N N L E | E E E E | C N N N | N N (tail)
        //   block   NORMAL  | EVICT   | CACHE   | NORMAL
        BlockTable table = new BlockTable(1, 4);
        table.append(14, NORMAL_CODE, out);
        Transitions t = new Transitions();
        t.add(0, 2, NORMAL_CODE, LOW_CODE);
        t.add(0, 3, NORMAL_CODE, EVICT_CODE);
        for (int i = 4; i < 8; i++) {
            t.add(0, i, NORMAL_CODE, EVICT_CODE);
        }
        t.add(0, 8, NORMAL_CODE, CACHE_CODE);
        out.clear();
        table.apply(t, out);
        assertEquals("[0:1 NORMAL->EVICT, 0:2 NORMAL->CACHE]", out.toString());
        assertEquals("NECN", levels(table, 0));
    }

    @Test
    void layers_areIndependent() {
        BlockTable table = new BlockTable(2, 2);
        table.append(4, NORMAL_CODE, out);
        assertEquals("[1:0 NORMAL->CACHE]", move(table, 1, 0, NORMAL_CODE, CACHE_CODE));
        assertEquals("NN", levels(table, 0));
        assertEquals("CN", levels(table, 1));
        assertEquals(2, table.layers());
        assertEquals(2, table.blockSize());
    }

    @Test
    void blockSizeOne_freesEachEvictedToken() {
        BlockTable table = new BlockTable(1, 1);
        table.append(3, NORMAL_CODE, out);
        assertEquals("[0:1 NORMAL->EVICT]", move(table, 0, 1, NORMAL_CODE, EVICT_CODE));
        assertEquals("NEN", levels(table, 0));
    }

    @Test
    void badInput_isAnException() {
        assertEquals("layers must be > 0, was 0", assertThrows(IllegalArgumentException.class, () -> new BlockTable(0, 4)).getMessage());
        assertEquals("blockSize must be > 0, was -1", assertThrows(IllegalArgumentException.class, () -> new BlockTable(1, -1)).getMessage());
        BlockTable table = new BlockTable(1, 4);
        assertEquals("count must be > 0, was 0", assertThrows(IllegalArgumentException.class, () -> table.append(0, NORMAL_CODE, out)).getMessage());
        table.append(5, NORMAL_CODE, out);
        Transitions beyond = new Transitions();
        beyond.add(0, 5, NORMAL_CODE, LOW_CODE);
        assertEquals("transition for token 5 but only 5 tokens exist",
                assertThrows(IllegalArgumentException.class, () -> table.apply(beyond, out)).getMessage());
        Transitions wrongFrom = new Transitions();
        wrongFrom.add(0, 2, CACHE_CODE, NORMAL_CODE);
        assertEquals("layer 0 block 0 has no token at CACHE to move (token 2)",
                assertThrows(IllegalStateException.class, () -> table.apply(wrongFrom, out)).getMessage());
        assertThrows(IndexOutOfBoundsException.class, () -> table.level(0, 2));
    }

    @Test
    void randomTransitions_blockLevelsFollowTheirTokens_andEachChangeIsReportedOnce() {
        Random r = new Random(17);
        int layers = 2;
        int blockSize = 3;
        BlockTable table = new BlockTable(layers, blockSize);
        byte[][] tokens = new byte[layers][400];
        byte[][] reported = new byte[layers][200]; // block levels as the emitted transitions say
        int length = 0;
        for (int round = 0; round < 300; round++) {
            if (length < 400 && r.nextInt(3) == 0) {
                int n = 1 + r.nextInt(Math.min(5, 400 - length));
                out.clear();
                table.append(n, NORMAL_CODE, out);
                for (int l = 0; l < layers; l++) {
                    java.util.Arrays.fill(tokens[l], length, length + n, NORMAL_CODE);
                }
                for (int b = (length + blockSize - 1) / blockSize; b < (length + n + blockSize - 1) / blockSize; b++) {
                    for (int l = 0; l < layers; l++) {
                        reported[l][b] = NORMAL_CODE; // new blocks start at NORMAL without a transition
                    }
                }
                replay(out, reported);
                length += n;
            } else if (length > 0) {
                // a batch of token moves, one step each, never out of EVICT (as the policies emit)
                Transitions t = new Transitions();
                boolean[][] moved = new boolean[layers][length];
                for (int i = 0; i < 10; i++) {
                    int l = r.nextInt(layers);
                    int tok = r.nextInt(length);
                    byte from = tokens[l][tok];
                    if (from == EVICT_CODE || moved[l][tok]) {
                        continue;
                    }
                    byte to = (byte) (from == CACHE_CODE || r.nextBoolean() ? from + 1 : from - 1);
                    t.add(l, tok, from, to);
                    tokens[l][tok] = to;
                    moved[l][tok] = true;
                }
                out.clear();
                table.apply(t, out);
                replay(out, reported);
            }
            table.checkInvariants();
            for (int l = 0; l < layers; l++) {
                for (int b = 0; b < table.blocks(); b++) {
                    assertEquals(table.level(l, b), reported[l][b], "layer " + l + " block " + b + " round " + round);
                    byte expected = expectedLevel(tokens[l], b, blockSize, length, table.level(l, b));
                    assertEquals(expected, table.level(l, b), "layer " + l + " block " + b + " round " + round);
                }
            }
        }
    }

    /** Applies block transitions to the reported levels, checking each starts where the last left off and changes something. */
    private static void replay(Transitions t, byte[][] reported) {
        for (int i = 0; i < t.size(); i++) {
            assertEquals(reported[t.layer(i)][t.index(i)], t.from(i), "transition " + i + " of " + t);
            assertTrue(t.from(i) != t.to(i), t.toString());
            reported[t.layer(i)][t.index(i)] = t.to(i);
        }
    }

    /** From scratch: most popular live token; EVICT if full and none live; a partial tail without live tokens keeps its level. */
    private static byte expectedLevel(byte[] tokens, int block, int blockSize, int length, byte current) {
        int from = block * blockSize;
        int to = Math.min(length, from + blockSize);
        byte best = EVICT_CODE;
        for (int t = from; t < to; t++) {
            best = (byte) Math.min(best, tokens[t]);
        }
        if (best == EVICT_CODE && to - from < blockSize) {
            return current;
        }
        return best;
    }
}

package io.tierkv.core;

import static io.tierkv.core.Level.CACHE_CODE;
import static io.tierkv.core.Level.EVICT_CODE;
import static io.tierkv.core.Level.LOW_CODE;
import static io.tierkv.core.Level.NORMAL_CODE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The packed list: what goes in comes out, in order or not, across runs of layers and spans of indexes. */
class TransitionsTest {
    @Test
    void add_thenRead_givesBackEachTransition_acrossLayersAndSpans() {
        Transitions t = new Transitions();
        t.add(0, 5, NORMAL_CODE, LOW_CODE);
        t.add(0, 9, LOW_CODE, EVICT_CODE);                    // same run: layer 0, base 5
        t.add(2, 9, CACHE_CODE, NORMAL_CODE);                 // new run: another layer
        t.add(2, 9 + Transitions.SPAN, NORMAL_CODE, CACHE_CODE);   // new run: beyond the span
        t.add(2, 3, EVICT_CODE, LOW_CODE);                    // new run: below the base
        assertEquals("[0:5 NORMAL->LOW, 0:9 LOW->EVICT, 2:9 CACHE->NORMAL, 2:4105 NORMAL->CACHE, 2:3 EVICT->LOW]", t.toString());
        // out of order: each lookup finds its run
        assertEquals(3, t.index(4));
        assertEquals(0, t.layer(1));
        assertEquals(4105, t.index(3));
        assertEquals(5, t.index(0));
        assertEquals(2, t.countTo(Level.LOW));
    }

    @Test
    void claimAndCommit_appendRunsOfEntries() {
        Transitions t = new Transitions();
        t.add(7, 1, CACHE_CODE, NORMAL_CODE);
        short[] entries = t.claim(2);
        entries[1] = (short) Transitions.entry(4095, NORMAL_CODE, LOW_CODE);
        entries[2] = (short) Transitions.entry(0, LOW_CODE, EVICT_CODE);
        t.commit(3, 8192, 2);
        t.commit(3, 0, 0);                                    // an empty run adds nothing
        assertEquals("[7:1 CACHE->NORMAL, 3:12287 NORMAL->LOW, 3:8192 LOW->EVICT]", t.toString());
        assertThrows(IllegalArgumentException.class, () -> t.commit(3, 0, 1_000_000));
    }

    @Test
    void randomTransitions_readBackInAnyOrder() {
        SplittableRandom rnd = new SplittableRandom(5);
        Transitions t = new Transitions();
        int n = 5000;
        int[] layer = new int[n];
        int[] index = new int[n];
        byte[] from = new byte[n];
        byte[] to = new byte[n];
        for (int i = 0; i < n; i++) {
            layer[i] = rnd.nextInt(3);
            index[i] = rnd.nextInt(3) == 0 ? rnd.nextInt(1 << 30) : rnd.nextInt(20_000);
            from[i] = (byte) rnd.nextInt(4);
            to[i] = (byte) rnd.nextInt(4);
            t.add(layer[i], index[i], from[i], to[i]);
        }
        for (int k = 0; k < 2 * n; k++) {
            int i = k < n ? k : rnd.nextInt(n);
            assertEquals(layer[i], t.layer(i));
            assertEquals(index[i], t.index(i));
            assertEquals(from[i], t.from(i));
            assertEquals(to[i], t.to(i));
        }
        t.clear();
        assertEquals(0, t.size());
        assertThrows(IndexOutOfBoundsException.class, () -> t.layer(0));
    }

    @Test
    void badInput_isAnException() {
        Transitions t = new Transitions();
        assertEquals("transition index -1 is negative",
                assertThrows(IllegalArgumentException.class, () -> t.add(0, -1, CACHE_CODE, LOW_CODE)).getMessage());
        assertEquals("transition levels 0 -> 4 are not level codes",
                assertThrows(IllegalArgumentException.class, () -> t.add(0, 1, CACHE_CODE, (byte) 4)).getMessage());
    }
}

package io.tierkv.core.policy;

import static io.tierkv.core.Level.CACHE;
import static io.tierkv.core.Level.EVICT;
import static io.tierkv.core.Level.LOW;
import static io.tierkv.core.Level.NORMAL;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.tierkv.core.Level;
import io.tierkv.core.Transitions;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The paper's state machine, fed counts directly: count sequences in, level sequences out, every
 * expectation worked out by hand from the "Popularity Definition" slide (CACHE 10+, NORMAL 5-9, LOW 1-4,
 * EVICT 0; one level per 40-token window toward the earned level).
 */
class LevelStateMachineTest {
    private static final LevelStateMachine PAPER = new LevelStateMachine(HierarchicalConfig.paper());

    /**
     * One token born at step 0, starting at {@code start}; window {@code w} closes at step {@code 40 * w}
     * with {@code counts[w-1]}. Returns the level after each close.
     */
    private static List<Level> run(LevelStateMachine m, Level start, int... counts) {
        byte[] levels = {start.code()};
        int[] birth = {0};
        List<Level> seen = new ArrayList<>();
        int window = m.config().window();
        for (int w = 0; w < counts.length; w++) {
            m.closeWindow(0, levels, new int[] {counts[w]}, birth, 1, (w + 1) * window, new Transitions());
            seen.add(Level.of(levels[0]));
        }
        return seen;
    }

    @ParameterizedTest(name = "{0} counts earn {1}")
    @CsvSource({"0, EVICT", "1, LOW", "4, LOW", "5, NORMAL", "9, NORMAL", "10, CACHE", "40, CACHE", "1000, CACHE"})
    void earned_followsThePapersThresholds(int count, Level expected) {
        assertEquals(expected, Level.of(PAPER.earned(count)));
    }

    @Test
    void promote_fromNormalWithTenCounts_movesToCache() {
        assertEquals(List.of(CACHE), run(PAPER, NORMAL, 10));
    }

    @Test
    void promote_fromLowWithCacheCounts_movesOnlyToNormal() {
        // LOW earns CACHE with 12 counts but climbs one level per window: LOW -> NORMAL -> CACHE
        assertEquals(List.of(NORMAL, CACHE), run(PAPER, LOW, 12, 12));
    }

    @Test
    void demote_fromCacheAfterEmptyWindow_movesOneLevelToNormal_notEvict() {
        // 0 counts earn EVICT, but a CACHE token only drops to NORMAL, then LOW, then EVICT
        assertEquals(List.of(NORMAL, LOW, EVICT), run(PAPER, CACHE, 0, 0, 0));
    }

    @Test
    void levelSequence_riseHoldFallAndStayEvicted() {
        // counts per window:  10     10     0       0    0      50 (evicted: no return)
        // level after close:  CACHE  CACHE  NORMAL  LOW  EVICT  EVICT
        assertEquals(List.of(CACHE, CACHE, NORMAL, LOW, EVICT, EVICT), run(PAPER, NORMAL, 10, 10, 0, 0, 0, 50));
    }

    @Test
    void levelSequence_countsMatchingTheCurrentLevel_holdIt() {
        // NORMAL with 7 stays NORMAL; 3 earns LOW; LOW with 3 stays; 5 earns NORMAL; 9 holds NORMAL
        assertEquals(List.of(NORMAL, LOW, LOW, NORMAL, NORMAL), run(PAPER, NORMAL, 7, 3, 3, 5, 9));
    }

    @Test
    void thresholdEdges_nineVersusTen_atNormal() {
        assertEquals(List.of(NORMAL), run(PAPER, NORMAL, 9));
        assertEquals(List.of(CACHE), run(PAPER, NORMAL, 10));
        // and at CACHE: 9 is not enough to stay
        assertEquals(List.of(NORMAL), run(PAPER, CACHE, 9));
        assertEquals(List.of(CACHE), run(PAPER, CACHE, 10));
    }

    @Test
    void thresholdEdges_fourVersusFive() {
        assertEquals(List.of(LOW), run(PAPER, NORMAL, 4));
        assertEquals(List.of(NORMAL), run(PAPER, NORMAL, 5));
        assertEquals(List.of(LOW), run(PAPER, LOW, 4));
        assertEquals(List.of(NORMAL), run(PAPER, LOW, 5));
    }

    @Test
    void thresholdEdges_zeroVersusOne() {
        assertEquals(List.of(EVICT), run(PAPER, LOW, 0));
        assertEquals(List.of(LOW), run(PAPER, LOW, 1));
        assertEquals(List.of(LOW), run(PAPER, NORMAL, 0));
        assertEquals(List.of(LOW), run(PAPER, NORMAL, 1));
    }

    @Test
    void closeWindow_recordsTransitionsAndReturnsEvictions_leavingCountsAlone() {
        // token:   0      1      2     3     4      5
        // level:   NORMAL CACHE  LOW   LOW   NORMAL EVICT
        // count:   10     0      0     7     6      99
        // ->       CACHE  NORMAL EVICT NORMAL (stay) (final)
        byte[] levels = {NORMAL.code(), CACHE.code(), LOW.code(), LOW.code(), NORMAL.code(), EVICT.code()};
        int[] counts = {10, 0, 0, 7, 6, 99};
        int[] birth = new int[6];
        Transitions out = new Transitions();
        int evicted = PAPER.closeWindow(3, levels, counts, birth, 6, 40, out);
        assertEquals(1, evicted);
        assertEquals("[3:0 NORMAL->CACHE, 3:1 CACHE->NORMAL, 3:2 LOW->EVICT, 3:3 LOW->NORMAL]", out.toString());
        assertArrayEquals(new byte[] {0, 1, 3, 1, 1, 3}, levels);
        assertArrayEquals(new int[] {10, 0, 0, 7, 6, 99}, counts);
    }

    @Test
    void bornByEnd_isTheFirstTokenBornAfterTheCut_onBirthsInOrder() {
        int[] birth = {0, 0, 3, 3, 3, 7, 9};
        assertEquals(0, LevelStateMachine.bornByEnd(birth, 0, 5), "no tokens");
        assertEquals(0, LevelStateMachine.bornByEnd(birth, 7, -1), "every token born after the cut");
        assertEquals(2, LevelStateMachine.bornByEnd(birth, 7, 0));
        assertEquals(2, LevelStateMachine.bornByEnd(birth, 7, 2));
        assertEquals(5, LevelStateMachine.bornByEnd(birth, 7, 3), "equal births at the cut are all old enough");
        assertEquals(6, LevelStateMachine.bornByEnd(birth, 7, 8));
        assertEquals(7, LevelStateMachine.bornByEnd(birth, 7, 9), "every token old enough");
        assertEquals(4, LevelStateMachine.bornByEnd(birth, 4, 100), "only the first length tokens count");
        for (int cut = -1; cut <= 10; cut++) {
            int expected = 0;
            while (expected < birth.length && birth[expected] <= cut) {
                expected++;
            }
            assertEquals(expected, LevelStateMachine.bornByEnd(birth, birth.length, cut), "cut " + cut);
        }
    }

    @Test
    void birthsOutOfOrder_areCaughtWhereAssertionsRun() {
        assumeTrue(LevelStateMachine.class.desiredAssertionStatus(), "assertions are off");
        byte[] levels = {NORMAL.code(), NORMAL.code()};
        AssertionError e = assertThrows(AssertionError.class,
                () -> PAPER.closeWindow(0, levels, new int[2], new int[] {5, 1}, 2, 80, new Transitions()));
        assertTrue(e.getMessage().contains("births"), e.getMessage());
    }

    @Test
    void closeWindow_considersOnlyTheFirstLengthTokens() {
        byte[] levels = {LOW.code(), LOW.code()};
        Transitions out = new Transitions();
        PAPER.closeWindow(0, levels, new int[2], new int[2], 1, 40, out);
        assertEquals("[0:0 LOW->EVICT]", out.toString());
        assertEquals(LOW.code(), levels[1]);
    }

    @Test
    void youngToken_isJudgedOnlyOnceItHasLivedAFullWindow() {
        // births: 0 (judged at 40), 1 and 20 and 39 (too young at 40, 40 - 39 = 1 < 40), 40 (born at the close)
        byte[] levels = new byte[5];
        java.util.Arrays.fill(levels, NORMAL.code());
        int[] birth = {0, 1, 20, 39, 40};
        int[] tenEach = {10, 10, 10, 10, 10};
        Transitions out = new Transitions();
        PAPER.closeWindow(0, levels, tenEach, birth, 5, 40, out);
        assertEquals("[0:0 NORMAL->CACHE]", out.toString());
        // at the next close every one of them has lived >= 40 steps (80 - 40 = 40): all judged, here on 0 counts
        out.clear();
        PAPER.closeWindow(0, levels, new int[5], birth, 5, 80, out);
        assertEquals("[0:0 CACHE->NORMAL, 0:1 NORMAL->LOW, 0:2 NORMAL->LOW, 0:3 NORMAL->LOW, 0:4 NORMAL->LOW]", out.toString());
    }

    @Test
    void youngToken_ageExactlyOneWindow_isJudged_oneLess_isNot() {
        byte[] levels = {NORMAL.code(), NORMAL.code()};
        int[] birth = {60, 61};
        Transitions out = new Transitions();
        PAPER.closeWindow(0, levels, new int[] {10, 10}, birth, 2, 100, out); // ages 40 and 39
        assertEquals("[0:0 NORMAL->CACHE]", out.toString());
    }

    @Test
    void configurableThresholds_areHonoured() {
        // cache >= 3, normal >= 2, low >= 1, window 4
        LevelStateMachine m = new LevelStateMachine(new HierarchicalConfig(3, 2, 1, 4, 1));
        assertEquals(List.of(CACHE), run(m, NORMAL, 3));
        assertEquals(List.of(NORMAL), run(m, NORMAL, 2));
        assertEquals(List.of(LOW, LOW, EVICT), run(m, NORMAL, 1, 1, 0));
        assertEquals(List.of(CACHE, NORMAL), run(m, NORMAL, 4, 2));
        // the young-token rule uses the configured window: born at 1, too young at 4, judged at 8
        byte[] levels = {NORMAL.code()};
        Transitions out = new Transitions();
        m.closeWindow(0, levels, new int[] {3}, new int[] {1}, 1, 4, out);
        assertTrue(out.isEmpty());
        m.closeWindow(0, levels, new int[] {3}, new int[] {1}, 1, 8, out);
        assertEquals("[0:0 NORMAL->CACHE]", out.toString());
    }

    @Test
    void stepToward_movesExactlyOneLevel() {
        assertEquals(NORMAL.code(), Level.stepToward(CACHE.code(), EVICT.code()));
        assertEquals(NORMAL.code(), Level.stepToward(LOW.code(), CACHE.code()));
        assertEquals(EVICT.code(), Level.stepToward(LOW.code(), EVICT.code()));
        assertEquals(LOW.code(), Level.stepToward(LOW.code(), LOW.code()));
    }
}

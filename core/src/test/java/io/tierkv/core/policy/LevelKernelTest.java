package io.tierkv.core.policy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.core.Level;
import io.tierkv.core.Transitions;
import io.tierkv.core.popularity.VectorSupport;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The fast window close (vectorised where the Vector API is present) against a straightforward
 * reference close written from the rule: each token old enough and not final moves one level toward what its
 * count earned. Random levels, counts around the thresholds and births (in token order) around the judging age,
 * lengths that are not multiples of a vector.
 */
class LevelKernelTest {
    private static final HierarchicalConfig PAPER = HierarchicalConfig.paper();

    /** The rule, token by token, with the public helpers. */
    private static int referenceClose(LevelStateMachine m, int layer, byte[] levels, int[] counts, int[] birth, int length,
                                      int now, boolean revive, Transitions out) {
        int net = 0;
        for (int t = 0; t < length; t++) {
            byte from = levels[t];
            boolean old = now - birth[t] >= m.config().window();
            boolean movable = revive || from != Level.EVICT_CODE;
            if (!old || !movable) {
                continue;
            }
            byte to = Level.stepToward(from, m.earned(counts[t]));
            if (to != from) {
                levels[t] = to;
                out.add(layer, t, from, to);
                net += (to == Level.EVICT_CODE ? 1 : 0) - (from == Level.EVICT_CODE ? 1 : 0);
            }
        }
        return net;
    }

    @ParameterizedTest(name = "length {0}")
    @ValueSource(ints = {1, 7, 8, 9, 63, 4095, 4096, 4097, 10_000, 140_001}) // the last judges > VECTOR_MIN_TOKENS: the vector kernel
    void fastClose_equalsReferenceClose_onRandomCounts(int length) {
        SplittableRandom rnd = new SplittableRandom(length);
        for (int round = 0; round < 6; round++) {
            boolean revive = round % 2 == 0;
            int now = 40 + rnd.nextInt(80);
            byte[] levels = new byte[length];
            int[] counts = new int[length];
            int[] birth = new int[length];
            for (int t = 0; t < length; t++) {
                levels[t] = (byte) rnd.nextInt(4);
                counts[t] = rnd.nextInt(4) == 0 ? rnd.nextInt(1000) : rnd.nextInt(12);
                birth[t] = Math.max(0, now - 40 + rnd.nextInt(-3, 4));
            }
            Arrays.sort(birth);   // tokens are born in order
            byte[] expectedLevels = levels.clone();
            Transitions expected = new Transitions();
            LevelStateMachine machine = new LevelStateMachine(PAPER);
            int judged = LevelStateMachine.bornByEnd(birth, length, now - PAPER.window());
            assertEquals(length > 100_000, judged >= LevelStateMachine.VECTOR_MIN_TOKENS, judged + " tokens judged");
            int expectedNet = referenceClose(machine, 3, expectedLevels, counts, birth, length, now, revive, expected);
            Transitions actual = new Transitions();
            actual.add(1, 0, Level.CACHE_CODE, Level.NORMAL_CODE);   // something before: the close appends after it
            int net = machine.closeWindow(3, levels, counts, birth, length, now, revive, actual);
            assertArrayEquals(expectedLevels, levels, "levels, round " + round);
            assertEquals(expectedNet, net, "net evictions, round " + round);
            assertEquals(expected.size() + 1, actual.size(), "transitions, round " + round);
            for (int i = 0; i < expected.size(); i++) {
                assertEquals(expected.layer(i), actual.layer(i + 1));
                assertEquals(expected.index(i), actual.index(i + 1));
                assertEquals(expected.from(i), actual.from(i + 1));
                assertEquals(expected.to(i), actual.to(i + 1));
            }
            assertEquals(1, actual.layer(0));
        }
    }

    /**
     * The steady state: levels already match their counts and a token here and there moves, so most groups of
     * eight have no change (the vector kernel writes such a group's entries where the next change goes and must not
     * advance past them) and changed groups sit between unchanged ones.
     */
    @ParameterizedTest(name = "one token in {0} moves")
    @ValueSource(ints = {3, 17, 100, 5000})
    void fastClose_equalsReferenceClose_whenFewTokensMove(int every) {
        int length = 3 * Transitions.SPAN + 13;
        SplittableRandom rnd = new SplittableRandom(every);
        byte[] levels = new byte[length];
        int[] counts = new int[length];
        int[] birth = new int[length];
        int[] countFor = {PAPER.cacheMin() + 3, PAPER.normalMin(), PAPER.lowMin(), 0};   // what holds each level
        for (int t = 0; t < length; t++) {
            levels[t] = (byte) rnd.nextInt(4);
            counts[t] = rnd.nextInt(every) == 0 ? rnd.nextInt(15) : countFor[levels[t]];
        }
        byte[] expectedLevels = levels.clone();
        LevelStateMachine machine = new LevelStateMachine(PAPER);
        Transitions expected = new Transitions();
        int expectedNet = referenceClose(machine, 0, expectedLevels, counts, birth, length, 40, true, expected);
        Transitions actual = new Transitions();
        int net = machine.closeWindow(0, levels, counts, birth, length, 40, true, actual);
        assertTrue(expected.size() > 0 && expected.size() < length / 2, "a few tokens move: " + expected.size());
        assertArrayEquals(expectedLevels, levels);
        assertEquals(expectedNet, net);
        assertEquals(expected.size(), actual.size());
        for (int i = 0; i < expected.size(); i++) {
            assertEquals(expected.index(i), actual.index(i), "transition " + i);
            assertEquals(expected.from(i), actual.from(i), "transition " + i);
            assertEquals(expected.to(i), actual.to(i), "transition " + i);
        }
    }

    @ParameterizedTest(name = "length {0}")
    @ValueSource(ints = {5, 4096, 9_999})
    void scalarKernel_equalsVectorKernel(int length) {
        SplittableRandom rnd = new SplittableRandom(17);
        byte[] a = new byte[length];
        int[] counts = new int[length];
        for (int t = 0; t < length; t++) {
            a[t] = (byte) rnd.nextInt(4);
            counts[t] = rnd.nextInt(12);
        }
        byte[] b = a.clone();
        LevelKernel scalar = new ScalarLevelKernel();
        LevelKernel fast = LevelKernel.create();
        short[] expected = new short[3 + length + LevelKernel.SLACK];
        short[] actual = new short[3 + length + LevelKernel.SLACK];
        for (int start = 0; start < length; start += Transitions.SPAN) {
            int end = Math.min(length, start + Transitions.SPAN);
            int n = scalar.close(a, counts, start, end, Level.EVICT_CODE + 1, 10, 5, 1, expected, 3);
            assertEquals(n, fast.close(b, counts, start, end, Level.EVICT_CODE + 1, 10, 5, 1, actual, 3));
            assertArrayEquals(Arrays.copyOf(expected, n), Arrays.copyOf(actual, n), "span at " + start);
        }
        assertArrayEquals(a, b);
        assertEquals(scalar.net, fast.net);
        assertTrue(!VectorSupport.available() || fast instanceof VectorLevelKernel, "the build runs tests with the Vector API");
    }

    /**
     * The vector kernel reads {@code count >= threshold} as the sign of {@code threshold - 1 - count}: counts at the
     * thresholds, one either side, zero and the largest int, under the smallest and the largest thresholds a config
     * allows, must judge exactly as the scalar kernel does (levels, entries, net evictions).
     */
    @ParameterizedTest(name = "thresholds {0}")
    @ValueSource(strings = {"10,5,1", "3,2,1", "2147483647,2147483646,2147483645"})
    void vectorKernel_equalsScalarKernel_atThresholdEdgesAndExtremeCounts(String thresholds) {
        String[] th = thresholds.split(",");
        int cache = Integer.parseInt(th[0]);
        int normal = Integer.parseInt(th[1]);
        int low = Integer.parseInt(th[2]);
        int[] interesting = {0, 1, low - 1, low, low + 1, normal - 1, normal, normal + 1, cache - 1, cache,
                Integer.MAX_VALUE - 1, Integer.MAX_VALUE};
        int length = 4096 + 3 * 8 + 5;   // more than a span, not a whole number of vectors
        SplittableRandom rnd = new SplittableRandom(cache);
        byte[] a = new byte[length];
        int[] counts = new int[length];
        for (int t = 0; t < length; t++) {
            a[t] = (byte) rnd.nextInt(4);
            counts[t] = interesting[rnd.nextInt(interesting.length)];
        }
        for (int finalLevel : new int[] {Level.EVICT_CODE, Level.EVICT_CODE + 1}) {
            byte[] expectedLevels = a.clone();
            byte[] actualLevels = a.clone();
            LevelKernel scalar = new ScalarLevelKernel();
            LevelKernel fast = LevelKernel.create();
            short[] expected = new short[length + LevelKernel.SLACK];
            short[] actual = new short[length + LevelKernel.SLACK];
            int moved = 0;
            for (int start = 0; start < length; start += Transitions.SPAN) {
                int end = Math.min(length, start + Transitions.SPAN);
                int n = scalar.close(expectedLevels, counts, start, end, finalLevel, cache, normal, low, expected, 0);
                assertEquals(n, fast.close(actualLevels, counts, start, end, finalLevel, cache, normal, low, actual, 0),
                        "changes in the span at " + start);
                assertArrayEquals(Arrays.copyOf(expected, n), Arrays.copyOf(actual, n), "span at " + start);
                moved += n;
            }
            assertArrayEquals(expectedLevels, actualLevels, "levels, final level " + finalLevel);
            assertEquals(scalar.net, fast.net, "net evictions, final level " + finalLevel);
            assertTrue(moved > length / 4, "the data moves tokens: " + moved);
            assertTrue(scalar.net != 0, "the data moves tokens to or from EVICT");
        }
    }

    @org.junit.jupiter.api.Test
    void stateMachine_closesShortLayersScalar_andLongOnesWithTheVectorKernelWherePresent() {
        LevelStateMachine m = new LevelStateMachine(PAPER);
        assertTrue(m.kernelFor(LevelStateMachine.VECTOR_MIN_TOKENS - 1) instanceof ScalarLevelKernel, "a short close: scalar, needs no JIT warming");
        assertEquals(LevelKernel.create().getClass(), m.kernelFor(LevelStateMachine.VECTOR_MIN_TOKENS).getClass());
        assertEquals(VectorSupport.available() ? "VectorLevelKernel" : "ScalarLevelKernel",
                m.kernelFor(LevelStateMachine.VECTOR_MIN_TOKENS).getClass().getSimpleName());
    }
}

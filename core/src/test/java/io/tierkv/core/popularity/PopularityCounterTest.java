package io.tierkv.core.popularity;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.Arrays;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Hand-computed cases for every Java counter: head averaging, the lower-position tie rule, ascending
 * output, strides and offsets, and the argument checks. Values are multiples of 1/8 so that every head
 * sum is exact and the expected ranking can be read off the comments.
 */
class PopularityCounterTest {

    static Stream<Arguments> counters() {
        return Stream.of(
                Arguments.of("reference", (Supplier<PopularityCounter>) ReferencePopularityCounter::new),
                Arguments.of("java-scalar", (Supplier<PopularityCounter>) () -> new FastPopularityCounter(false)),
                Arguments.of("java-vector", (Supplier<PopularityCounter>) () -> {
                    assumeTrue(VectorSupport.available(), "Vector API not in this JVM");
                    return new FastPopularityCounter(true);
                }));
    }

    private static int[] top(PopularityCounter c, float[] probs, int heads, int keys, int k) {
        int[] out = new int[Math.max(1, Math.min(k, keys))];
        int n = c.selectTopK(probs, 0, heads, keys, keys, k, out);
        return Arrays.copyOf(out, n);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("counters")
    void selectTopK_ranksByHeadSum_notByAnySingleHead(String name, Supplier<PopularityCounter> make) {
        // head 0: .625 .375 0   0      head 0 alone would pick key 0
        // head 1: 0    .5   .5  0      head 1 alone ties keys 1 and 2
        // sum:    .625 .875 .5  0   -> the mean picks key 1, then 0, then 2
        float[] probs = {0.625f, 0.375f, 0f, 0f, 0f, 0.5f, 0.5f, 0f};
        PopularityCounter c = make.get();
        assertArrayEquals(new int[] {1}, top(c, probs, 2, 4, 1));
        assertArrayEquals(new int[] {0, 1}, top(c, probs, 2, 4, 2));
        assertArrayEquals(new int[] {0, 1, 2}, top(c, probs, 2, 4, 3));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("counters")
    void selectTopK_equalScores_lowerPositionWins(String name, Supplier<PopularityCounter> make) {
        PopularityCounter c = make.get();
        float[] flat = new float[10];
        Arrays.fill(flat, 0.125f);
        // all ten tie: the three lowest positions
        assertArrayEquals(new int[] {0, 1, 2}, top(c, flat, 1, 10, 3));
        // .25 .25 .5 .25 .25, k=2: key 2 first, then the tie among 0,1,3,4 goes to 0
        assertArrayEquals(new int[] {0, 2}, top(c, new float[] {0.25f, 0.25f, 0.5f, 0.25f, 0.25f}, 1, 5, 2));
        // the tie sits after the winner: 0 .5 .25 .25 .25 .25, k=3 -> 1, then 2 and 3
        assertArrayEquals(new int[] {1, 2, 3}, top(c, new float[] {0f, 0.5f, 0.25f, 0.25f, 0.25f, 0.25f}, 1, 6, 3));
        // all zero (every key evicted or masked): still deterministic, lowest positions
        assertArrayEquals(new int[] {0, 1}, top(c, new float[7], 1, 7, 2));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("counters")
    void selectTopK_sameInputTwice_sameAnswer(String name, Supplier<PopularityCounter> make) {
        PopularityCounter c = make.get();
        float[] probs = {0.25f, 0.125f, 0.25f, 0.125f, 0.25f, 0f, 0.25f, 0.125f};
        int[] first = top(c, probs, 1, 8, 3);
        int[] second = top(c, probs, 1, 8, 3);
        assertArrayEquals(new int[] {0, 2, 4}, first);
        assertArrayEquals(first, second);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("counters")
    void selectTopK_returnsPositionsInAscendingOrder(String name, Supplier<PopularityCounter> make) {
        // scores grow with position; the best are 5 and 4 but the answer lists 4 then 5
        float[] probs = {0f, 0.125f, 0.25f, 0.375f, 0.5f, 0.625f};
        assertArrayEquals(new int[] {3, 4, 5}, top(make.get(), probs, 1, 6, 3));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("counters")
    void selectTopK_kAtOrBeyondKeys_returnsEveryKey(String name, Supplier<PopularityCounter> make) {
        PopularityCounter c = make.get();
        float[] probs = {0.5f, 0f, 0.25f};
        int[] out = new int[3];
        assertEquals(3, c.selectTopK(probs, 0, 1, 3, 3, 3, out));
        assertArrayEquals(new int[] {0, 1, 2}, out);
        Arrays.fill(out, -1);
        assertEquals(3, c.selectTopK(probs, 0, 1, 3, 3, 100, out));
        assertArrayEquals(new int[] {0, 1, 2}, out);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("counters")
    void selectTopK_noKeys_returnsZero(String name, Supplier<PopularityCounter> make) {
        assertEquals(0, make.get().selectTopK(new float[0], 0, 2, 0, 0, 4, new int[0]));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("counters")
    void selectTopK_readsOnlyTheRowsAtOffsetAndStride(String name, Supplier<PopularityCounter> make) {
        // offset 2, 2 heads, stride 5, 3 keys; 9 marks floats that must never be read
        //   index: 0 1 | 2   3   4   | 5 6 | 7   8   9   | 10 11
        //          9 9 | 0  .5  .25  | 9 9 | .5  0   .25 | 9  9
        // sums: key0 .5, key1 .5, key2 .5 -> all tie; k=2 -> 0, 1
        float X = 9f;
        float[] probs = {X, X, 0f, 0.5f, 0.25f, X, X, 0.5f, 0f, 0.25f, X, X};
        int[] out = new int[2];
        assertEquals(2, make.get().selectTopK(probs, 2, 2, 5, 3, 2, out));
        assertArrayEquals(new int[] {0, 1}, out);
        // change head 1's key 2 to .5: key 2 sums to .75 and wins
        probs[9] = 0.5f;
        assertEquals(1, make.get().selectTopK(probs, 2, 2, 5, 3, 1, out));
        assertEquals(2, out[0]);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("counters")
    void count_addsOneToEachSelectedPosition(String name, Supplier<PopularityCounter> make) {
        PopularityCounter c = make.get();
        int[] counts = {7, 0, 0, 0};
        int[] out = new int[2];
        float[] probs = {0.125f, 0.5f, 0f, 0.375f};
        assertEquals(2, c.count(probs, 0, 1, 4, 4, 2, out, counts));
        assertEquals(2, c.count(probs, 0, 1, 4, 4, 2, out, counts));
        assertArrayEquals(new int[] {7, 2, 0, 2}, counts);
    }

    @Test
    void checkArguments_badInput_namesTheParameterAndValue() {
        PopularityCounter c = new ReferencePopularityCounter();
        float[] p = new float[8];
        int[] out = new int[8];
        assertMessage("heads must be > 0, was 0", () -> c.selectTopK(p, 0, 0, 4, 4, 1, out));
        assertMessage("keys must be >= 0, was -1", () -> c.selectTopK(p, 0, 1, 4, -1, 1, out));
        assertMessage("k must be > 0, was 0", () -> c.selectTopK(p, 0, 1, 4, 4, 0, out));
        assertMessage("k must be > 0, was -3", () -> c.selectTopK(p, 0, 1, 4, 4, -3, out));
        assertMessage("stride 3 is smaller than keys 4", () -> c.selectTopK(p, 0, 2, 3, 4, 1, out));
        assertMessage("probs holds 8 floats but [2 x 5] from offset 0 needs 9", () -> c.selectTopK(p, 0, 2, 5, 4, 1, out));
        assertMessage("probs holds 8 floats but [2 x 4] from offset 1 needs 9", () -> c.selectTopK(p, 1, 2, 4, 4, 1, out));
        assertMessage("probs holds 8 floats but [1 x 4] from offset -1 needs 3", () -> c.selectTopK(p, -1, 1, 4, 4, 1, out));
        assertMessage("out holds 1 positions, needs 2", () -> c.selectTopK(p, 0, 1, 4, 4, 2, new int[1]));
    }

    @Test
    void fastCounter_checksArgumentsLikeTheReference() {
        PopularityCounter c = new FastPopularityCounter(false);
        assertMessage("k must be > 0, was 0", () -> c.selectTopK(new float[4], 0, 1, 4, 4, 0, new int[4]));
        assertMessage("stride 3 is smaller than keys 4", () -> c.selectTopK(new float[8], 0, 2, 3, 4, 1, new int[4]));
    }

    @Test
    void names_sayWhichPathRuns() {
        assertEquals("reference", new ReferencePopularityCounter().name());
        assertEquals("java-scalar", new FastPopularityCounter(false).name());
        assertEquals(VectorSupport.available() ? "java-vector" : "java-scalar", new FastPopularityCounter(true).name());
        assertEquals(new FastPopularityCounter().name(), PopularityCounters.java().name());
        assertEquals("reference", PopularityCounters.reference().name());
    }

    @Test
    void vectorSupport_presentInTheBuildsJvm_andDescribed() {
        // The build passes --add-modules jdk.incubator.vector to surefire (root pom tierkv.jvm.flags).
        assertEquals(ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent()
                && Boolean.parseBoolean(System.getProperty("tierkv.vector", "true")), VectorSupport.available());
        assertEquals(VectorSupport.available(), VectorSupport.describe().startsWith("Vector API on"));
    }

    static void assertMessage(String expected, Runnable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call::run);
        assertEquals(expected, e.getMessage());
    }
}

package io.tierkv.cuda.popularity;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.tierkv.core.popularity.FastPopularityCounter;
import io.tierkv.core.popularity.PopularityCounter;
import io.tierkv.core.popularity.ReferencePopularityCounter;
import java.util.Arrays;
import java.util.List;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every Java popularity counter selects exactly the oracle's positions, and counts them, on the
 * shared conformance inputs (ties, signed zeros, subnormals, k = 1 and k >= keys, keys around the
 * kernel's tile and block sizes). The CUDA counter runs the same cases in {@link CudaPopularityGpuTest}.
 */
class PopularityConformanceTest {

    static Stream<Arguments> counters() {
        List<Supplier<PopularityCounter>> impls = List.of(
                RadixSelectPopularityCounter::new,
                () -> new FastPopularityCounter(false),
                () -> new FastPopularityCounter(true));
        return impls.stream().map(s -> Arguments.of(s.get().name(), s));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("counters")
    void selectTopK_matchesTheReferenceOnEveryCase(String name, Supplier<PopularityCounter> supplier) {
        PopularityCounter counter = supplier.get();
        assertMatchesReference(counter);
    }

    /** Runs every case through {@code counter} and the oracle; also checks {@code count}. */
    static void assertMatchesReference(PopularityCounter counter) {
        ReferencePopularityCounter reference = new ReferencePopularityCounter();
        for (PopularityCase c : PopularityCase.all()) {
            int[] expected = new int[c.k() + 1];
            int[] actual = new int[c.k() + 1];
            int n = reference.selectTopK(c.probs(), c.offset(), c.heads(), c.stride(), c.keys(), c.k(), expected);
            assertEquals(Math.min(c.k(), c.keys()), n, c::toString);
            int m = counter.selectTopK(c.probs(), c.offset(), c.heads(), c.stride(), c.keys(), c.k(), actual);
            assertEquals(n, m, () -> counter.name() + " count on " + c);
            assertArrayEquals(Arrays.copyOf(expected, n), Arrays.copyOf(actual, m), () -> counter.name() + " on " + c);

            int[] counts = new int[c.keys()];
            counter.count(c.probs(), c.offset(), c.heads(), c.stride(), c.keys(), c.k(), actual, counts);
            counter.count(c.probs(), c.offset(), c.heads(), c.stride(), c.keys(), c.k(), actual, counts);
            int[] expectedCounts = new int[c.keys()];
            for (int i = 0; i < n; i++) {
                expectedCounts[expected[i]] = 2;
            }
            assertArrayEquals(expectedCounts, counts, () -> counter.name() + " counts on " + c);
        }
    }
}

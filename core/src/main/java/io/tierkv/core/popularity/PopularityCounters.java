package io.tierkv.core.popularity;

/** Factory for the Java popularity counters; the CUDA one lives in {@code tierkv-cuda-kernels}. */
public final class PopularityCounters {
    private PopularityCounters() {
    }

    /** The fastest Java counter this JVM supports (Vector API when present). */
    public static PopularityCounter java() {
        return new FastPopularityCounter();
    }

    /** The oracle. */
    public static PopularityCounter reference() {
        return new ReferencePopularityCounter();
    }
}

package io.tierkv.core.policy;

/** {@link LevelKernel} in plain Java, for JVMs without {@code jdk.incubator.vector}. */
final class ScalarLevelKernel extends LevelKernel {
    @Override
    int close(byte[] levels, int[] counts, int start, int end, int finalLevel, int cache, int normal, int low,
              short[] changes, int at) {
        return closeScalar(levels, counts, start, end, finalLevel, cache, normal, low, start, changes, at);
    }
}

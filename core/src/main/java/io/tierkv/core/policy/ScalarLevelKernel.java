package io.tierkv.core.policy;

/** {@link LevelKernel} in plain Java, for JVMs without {@code jdk.incubator.vector}. */
final class ScalarLevelKernel extends LevelKernel {
    @Override
    int close(byte[] levels, int[] counts, int[] birth, int start, int end, int bornBy, int finalLevel,
              int cache, int normal, int low, short[] changes, int at) {
        return closeScalar(levels, counts, birth, start, end, bornBy, finalLevel, cache, normal, low, start, changes, at);
    }
}

package io.tierkv.core.popularity;

/**
 * Selects the keys that one query attended to most, averaged over heads.
 *
 * <p>Input: one layer's attention probabilities for one query, {@code heads} rows of which the first
 * {@code keys} entries are read; row {@code h} starts at {@code offset + h * stride}. The score of key
 * {@code t} is the float sum {@code probs[h][t]} over {@code h = 0, 1, ..., heads-1}, added in that
 * order starting from {@code 0.0f}. Ranking by the sum is ranking by the head mean, without the
 * division's rounding; every implementation (Java, Vector API, CUDA) sums in the same order, so they
 * select bitwise-identical sets. Keys are ranked by {@link Float#compare} of their scores, highest
 * first; equal scores rank the lower position first. Inputs must not be NaN (the result is then
 * unspecified).
 *
 * <p>Output: the positions of the {@code min(k, keys)} best keys, in ascending position order.
 */
public interface PopularityCounter {

    /** A short name for logs and reports. */
    String name();

    /**
     * Writes the top-k positions into {@code out}, in ascending order, and returns how many.
     *
     * @param out room for at least {@code min(k, keys)} positions
     */
    int selectTopK(float[] probs, int offset, int heads, int stride, int keys, int k, int[] out);

    /**
     * Selects the top-k keys and adds one to {@code counts[position]} for each, returning how many were
     * counted. {@code out} receives the positions as in {@link #selectTopK}.
     */
    default int count(float[] probs, int offset, int heads, int stride, int keys, int k, int[] out, int[] counts) {
        int n = selectTopK(probs, offset, heads, stride, keys, k, out);
        for (int i = 0; i < n; i++) {
            counts[out[i]]++;
        }
        return n;
    }

    /** Checks the arguments every implementation shares; throws with the offending name and value. */
    static void checkArguments(float[] probs, int offset, int heads, int stride, int keys, int k, int[] out) {
        if (heads <= 0) {
            throw new IllegalArgumentException("heads must be > 0, was " + heads);
        }
        if (keys < 0) {
            throw new IllegalArgumentException("keys must be >= 0, was " + keys);
        }
        if (k <= 0) {
            throw new IllegalArgumentException("k must be > 0, was " + k);
        }
        if (stride < keys) {
            throw new IllegalArgumentException("stride " + stride + " is smaller than keys " + keys);
        }
        long last = offset + (long) (heads - 1) * stride + keys;
        if (offset < 0 || last > probs.length) {
            throw new IllegalArgumentException("probs holds " + probs.length + " floats but [" + heads + " x " + stride
                    + "] from offset " + offset + " needs " + last);
        }
        if (out.length < Math.min(k, keys)) {
            throw new IllegalArgumentException("out holds " + out.length + " positions, needs " + Math.min(k, keys));
        }
    }
}

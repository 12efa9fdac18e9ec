package io.tierkv.core.popularity;

import java.util.Arrays;

/**
 * The CPU popularity counter: one pass to sum the heads (Vector API when present), one pass over the
 * sums with a size-k min-heap of packed keys.
 *
 * <p>A key packs the score's order-preserving int bits above the inverted position, so that one
 * {@code long} comparison ranks by score and then prefers the lower position; the heap's root is the
 * worst key kept. Most keys lose against the root's score and cost one float comparison, which is why
 * this beats a full sort or a radix select for the k (tens to hundreds) the policy uses. NaN scores
 * are not supported (attention probabilities are never NaN) and rank unspecified. Not
 * thread-safe: scratch arrays are reused; give each thread its own instance.
 */
public final class FastPopularityCounter implements PopularityCounter {
    private final HeadSum headSum;
    private float[] score = new float[0];
    private long[] heap = new long[0];

    /** A counter using the Vector API when {@link VectorSupport#available()}. */
    public FastPopularityCounter() {
        this(VectorSupport.available());
    }

    /** A counter that uses the Vector API only if asked to and available. */
    public FastPopularityCounter(boolean vector) {
        this.headSum = vector && VectorSupport.available()
                ? VectorSupport.load("io.tierkv.core.popularity.VectorHeadSum", HeadSum.class)
                : new HeadSum.Scalar();
    }

    @Override
    public String name() {
        return headSum instanceof HeadSum.Scalar ? "java-scalar" : "java-vector";
    }

    @Override
    public int selectTopK(float[] probs, int offset, int heads, int stride, int keys, int k, int[] out) {
        PopularityCounter.checkArguments(probs, offset, heads, stride, keys, k, out);
        if (score.length < keys) {
            score = new float[Math.max(keys, score.length * 2)];
        }
        headSum.sum(probs, offset, heads, stride, keys, score);
        return select(score, keys, k, out);
    }

    /** Selects the top-k of precomputed scores (exposed for the CUDA fallback and the benchmarks). */
    public int select(float[] scores, int keys, int k, int[] out) {
        int n = Math.min(k, keys);
        if (heap.length < n) {
            heap = new long[Math.max(n, heap.length * 2)];
        }
        long[] h = heap;
        for (int t = 0; t < n; t++) {
            h[t] = key(scores[t], t);
            siftUp(h, t);
        }
        if (n > 0) {
            float worst = valueOf(h[0]);
            int worstBits = (int) (h[0] >> 32);
            // The filter skips every score below the worst kept one (a whole vector at a time with the
            // Vector API); s >= worst is necessary for entering, since Float.compare(s, worst) > 0
            // implies it. A later position then wins only with strictly greater bits (ties go to the
            // lower position, already in the heap). -0.0 ranks below +0.0.
            for (int t = headSum.nextAtLeast(scores, n, keys, worst); t < keys; t = headSum.nextAtLeast(scores, t + 1, keys, worst)) {
                float s = scores[t];
                if (orderedBits(s) > worstBits) {
                    h[0] = key(s, t);
                    siftDown(h, n);
                    worst = valueOf(h[0]);
                    worstBits = (int) (h[0] >> 32);
                }
            }
        }
        for (int i = 0; i < n; i++) {
            out[i] = positionOf(h[i]);
        }
        Arrays.sort(out, 0, n);
        return n;
    }

    /** Orders floats like {@link Float#compare} when compared as signed ints. */
    static int orderedBits(float v) {
        int bits = Float.floatToRawIntBits(v);
        return bits ^ ((bits >> 31) & 0x7FFFFFFF);
    }

    static long key(float v, int position) {
        return ((long) orderedBits(v) << 32) | (0xFFFFFFFFL - position);
    }

    private static float valueOf(long key) {
        int ordered = (int) (key >> 32);
        int bits = ordered ^ ((ordered >> 31) & 0x7FFFFFFF);
        return Float.intBitsToFloat(bits);
    }

    private static int positionOf(long key) {
        return (int) (0xFFFFFFFFL - (key & 0xFFFFFFFFL));
    }

    private static void siftUp(long[] h, int i) {
        long x = h[i];
        while (i > 0) {
            int parent = (i - 1) >>> 1;
            if (h[parent] <= x) {
                break;
            }
            h[i] = h[parent];
            i = parent;
        }
        h[i] = x;
    }

    private static void siftDown(long[] h, int n) {
        long x = h[0];
        int i = 0;
        while (true) {
            int child = 2 * i + 1;
            if (child >= n) {
                break;
            }
            if (child + 1 < n && h[child + 1] < h[child]) {
                child++;
            }
            if (h[child] >= x) {
                break;
            }
            h[i] = h[child];
            i = child;
        }
        h[i] = x;
    }
}

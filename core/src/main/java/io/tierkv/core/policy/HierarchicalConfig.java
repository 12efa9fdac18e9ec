package io.tierkv.core.policy;

/**
 * The numbers of the hierarchical policy, with the paper's defaults.
 *
 * <p>A token's count is how many query steps of the window put it in the top-k of one layer's
 * head-averaged attention. At the window's end, the count earns a level: CACHE for
 * {@code count >= cacheMin}, NORMAL for {@code count >= normalMin}, LOW for {@code count >= lowMin},
 * EVICT below; the token then moves one level toward it.
 *
 * @param cacheMin  counts for CACHE (paper: 10)
 * @param normalMin counts for NORMAL (paper: 5)
 * @param lowMin    counts for LOW (paper: 1); fewer is EVICT
 * @param window    query steps per profiling window (paper: every 40 generated tokens)
 * @param topK      keys counted per query and layer; the paper does not give it. The default, 8, keeps
 *                  the counted set about as large as a window's worth of attention sinks and answer
 *                  sources in the bundled task; see the eval report for its effect.
 */
public record HierarchicalConfig(int cacheMin, int normalMin, int lowMin, int window, int topK) {

    public static final int PAPER_CACHE_MIN = 10;
    public static final int PAPER_NORMAL_MIN = 5;
    public static final int PAPER_LOW_MIN = 1;
    public static final int PAPER_WINDOW = 40;
    public static final int DEFAULT_TOP_K = 8;

    public HierarchicalConfig {
        if (window <= 0) {
            throw new IllegalArgumentException("window must be > 0, was " + window);
        }
        if (topK <= 0) {
            throw new IllegalArgumentException("topK (k) must be > 0, was " + topK);
        }
        if (lowMin < 1) {
            throw new IllegalArgumentException("lowMin must be >= 1 (0 counts is EVICT), was " + lowMin);
        }
        if (!(cacheMin > normalMin && normalMin > lowMin)) {
            throw new IllegalArgumentException("thresholds must decrease: cacheMin > normalMin > lowMin, were "
                    + cacheMin + ", " + normalMin + ", " + lowMin);
        }
    }

    /** The paper's numbers and the default k. */
    public static HierarchicalConfig paper() {
        return new HierarchicalConfig(PAPER_CACHE_MIN, PAPER_NORMAL_MIN, PAPER_LOW_MIN, PAPER_WINDOW, DEFAULT_TOP_K);
    }

    /** The same configuration with another k. */
    public HierarchicalConfig withTopK(int k) {
        return new HierarchicalConfig(cacheMin, normalMin, lowMin, window, k);
    }

    /** The same configuration with another window. */
    public HierarchicalConfig withWindow(int w) {
        return new HierarchicalConfig(cacheMin, normalMin, lowMin, w, topK);
    }
}

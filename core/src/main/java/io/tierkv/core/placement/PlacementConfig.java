package io.tierkv.core.placement;

import java.util.function.Function;

/**
 * The knobs of {@link Placement}, every default in one place. Values are in units of one top-k request;
 * weights that multiply are given as counts and enter the value as their logarithm.
 *
 * @param tau             time constant of the decay of a block's request count, in steps; with adaptation, the
 *                        candidate the placement starts with
 * @param levelWeight     value added per level above NORMAL (CACHE +w, NORMAL 0, LOW -w, EVICT -2w), in ln units
 * @param priorWeight     requests one unit of prefill attention counts for ({@link Placement#prior})
 * @param newBlockWeight  the count a block that was never requested starts with when it leaves the tail
 * @param margin          how much more (ln units) a host block must be worth than the victim to be promoted
 * @param tauFactor       ratio between neighbouring candidate time constants ({@code > 1})
 * @param tauChoices      candidate time constants, {@code tau * tauFactor^j} for {@code j} in
 *                        {@code [-(tauChoices-1)/2, tauChoices/2]}; 1 turns adaptation off
 * @param adaptWindow     steps between two choices of the time constant
 * @param adaptKeep       share of a candidate's shadow misses still counted one window later ({@code [0, 1)})
 * @param adaptHysteresis how much fewer misses (a share) a candidate needs than the live one to replace it
 * @param shadowBlocks    the most device blocks a shadow models: past it the shadows follow a hashed sample of the
 *                        blocks on a device scaled by the same rate (SHARDS), so their cost stays bounded
 * @param neighbourWeight  what a request adds to the count of the next block of the same layer in the neighbour
 *                         candidates: twins of the shortest candidate time constants that count these, so a passage's
 *                         next blocks are promoted when attention comes back to it, and the adaptive choice decides from
 *                         the shadows' misses whether that pays; 0 turns the twins off, as does {@code tauChoices} 1
 * @param neighbourChoices how many of the shortest candidate time constants get a neighbour twin ({@code >= 0})
 * @param neighbourHysteresis how much fewer misses (a share) a twin needs, beyond {@code adaptHysteresis}, to replace
 *                         plain live values ({@code [0, 1)})
 * @param neighbourReach   a request credits the next block in full only when its newest requested position lies
 *                         within this many tokens of its block's end ({@code >= 1}): attention that sweeps on through a
 *                         passage is about to need the next block, a hit in the middle of a block says less about it
 * @param neighbourFarShare the share of {@code neighbourWeight} a request farther from its block's end credits
 *                         ({@code [0, 1]})
 * @param countCap         the most a block's decayed request count holds under the long candidates ({@code > 0}): a
 *                         block that was very popular falls back to the others within {@code tau * ln(countCap)} steps
 *                         once attention leaves it, so a long memory can separate blocks that come back from those that
 *                         do not without keeping yesterday's favourites forever
 * @param countCapFromTau  the shortest candidate time constant whose counts are capped ({@code > 0}); shorter ones
 *                         keep how hot a block is now
 */
public record PlacementConfig(double tau, double levelWeight, double priorWeight, double newBlockWeight, double margin,
                              double tauFactor, int tauChoices, int adaptWindow, double adaptKeep, double adaptHysteresis,
                              int shadowBlocks, double neighbourWeight, int neighbourChoices, double neighbourHysteresis,
                              int neighbourReach, double neighbourFarShare, double countCap, double countCapFromTau) {
    /** The fewest prompt queries whose attention seeds the prompt blocks' values: SnapKV's observation window. */
    public static final int MIN_PRIOR_QUERIES = 32;
    /** The most: past it the prior's cost (one attention row per query) grows and its information hardly does. */
    public static final int MAX_PRIOR_QUERIES = 256;
    /** One prior query per this many prompt tokens between the two. */
    public static final int TOKENS_PER_PRIOR_QUERY = 32;

    public static final double DEFAULT_TAU = doubleProperty("tau", "16");
    public static final double DEFAULT_LEVEL_WEIGHT = doubleProperty("level", "0.25");
    public static final double DEFAULT_PRIOR_WEIGHT = doubleProperty("prior", "1");
    public static final double DEFAULT_NEW_BLOCK_WEIGHT = doubleProperty("fresh", "0.2");
    public static final double DEFAULT_MARGIN = doubleProperty("margin", "0");
    public static final double DEFAULT_TAU_FACTOR = doubleProperty("tauFactor", "4");
    public static final int DEFAULT_TAU_CHOICES = intProperty("tauChoices", "4");
    public static final int DEFAULT_ADAPT_WINDOW = intProperty("adaptWindow", "32");
    public static final double DEFAULT_ADAPT_KEEP = doubleProperty("adaptKeep", "0.5");
    public static final double DEFAULT_ADAPT_HYSTERESIS = doubleProperty("adaptHysteresis", "0");
    public static final int DEFAULT_SHADOW_BLOCKS = intProperty("shadowBlocks", "4096");
    public static final double DEFAULT_NEIGHBOUR_WEIGHT = doubleProperty("neighbour", "1");
    public static final int DEFAULT_NEIGHBOUR_CHOICES = intProperty("neighbourChoices", "2");
    public static final double DEFAULT_NEIGHBOUR_HYSTERESIS = doubleProperty("neighbourHysteresis", "0.05");
    public static final int DEFAULT_NEIGHBOUR_REACH = intProperty("neighbourReach", "6");
    public static final double DEFAULT_NEIGHBOUR_FAR_SHARE = doubleProperty("neighbourFar", "0.02");
    public static final double DEFAULT_COUNT_CAP = doubleProperty("countCap", "3");
    public static final double DEFAULT_COUNT_CAP_FROM_TAU = doubleProperty("countCapFromTau", "64");

    /**
     * Prompt queries whose attention seeds the prompt blocks' values (runtime, recorded and synthetic traces alike):
     * the last {@code promptLength / 32}, at least 32 (SnapKV's observation window) and at most 256; all of a shorter
     * prompt. A long prompt spreads its attention over more blocks than 32 queries can show.
     */
    public static int priorQueries(int promptLength) {
        int rows = Math.max(MIN_PRIOR_QUERIES, Math.min(MAX_PRIOR_QUERIES, promptLength / TOKENS_PER_PRIOR_QUERY));
        return Math.max(0, Math.min(promptLength, rows));
    }

    public PlacementConfig {
        require(tau > 0, "tau", tau, "> 0");
        require(!Double.isNaN(levelWeight), "level", levelWeight, "a number");
        require(priorWeight >= 0, "prior", priorWeight, ">= 0");
        require(newBlockWeight > 0, "fresh", newBlockWeight, "> 0");
        require(margin >= 0, "margin", margin, ">= 0");
        require(tauFactor > 1, "tauFactor", tauFactor, "> 1");
        require(tauChoices >= 1, "tauChoices", tauChoices, ">= 1");
        require(adaptWindow >= 1, "adaptWindow", adaptWindow, ">= 1");
        require(adaptKeep >= 0 && adaptKeep < 1, "adaptKeep", adaptKeep, "in [0, 1)");
        require(adaptHysteresis >= 0 && adaptHysteresis < 1, "adaptHysteresis", adaptHysteresis, "in [0, 1)");
        require(shadowBlocks >= 1, "shadowBlocks", shadowBlocks, ">= 1");
        require(neighbourWeight >= 0, "neighbour", neighbourWeight, ">= 0");
        require(neighbourChoices >= 0, "neighbourChoices", neighbourChoices, ">= 0");
        require(neighbourHysteresis >= 0 && neighbourHysteresis < 1, "neighbourHysteresis", neighbourHysteresis, "in [0, 1)");
        require(neighbourReach >= 1, "neighbourReach", neighbourReach, ">= 1");
        require(neighbourFarShare >= 0 && neighbourFarShare <= 1, "neighbourFar", neighbourFarShare, "in [0, 1]");
        require(countCap > 0, "countCap", countCap, "> 0");
        require(countCapFromTau > 0, "countCapFromTau", countCapFromTau, "> 0");
    }

    /** Names the knob by its system property ({@code -Dtierkv.placement.NAME}), where a user would set it. */
    private static void require(boolean ok, String property, Object value, String rule) {
        if (!ok) {
            throw new IllegalArgumentException("placement: " + property + " (-D" + PROPERTY_PREFIX + property + ") must be "
                    + rule + ", got " + value);
        }
    }

    private static final String PROPERTY_PREFIX = "tierkv.placement.";

    /** The first system property that did not parse, reported by {@link #defaults()}; null when all did. */
    private static String propertyError;

    private static double doubleProperty(String name, String fallback) {
        return property(name, fallback, Double::valueOf, "a number", Double.NaN);
    }

    private static int intProperty(String name, String fallback) {
        return property(name, fallback, Integer::valueOf, "a whole number", Integer.MIN_VALUE);
    }

    /** {@code -Dtierkv.placement.NAME}, or {@code fallback}; a malformed value is remembered and {@code bad} returned. */
    private static <T> T property(String name, String fallback, Function<String, T> parse, String kind, T bad) {
        String text = System.getProperty(PROPERTY_PREFIX + name, fallback);
        try {
            return parse.apply(text.trim());
        } catch (NumberFormatException e) {
            propertyError = propertyError != null ? propertyError : "-D" + PROPERTY_PREFIX + name + "=" + text + " is not " + kind;
            return bad;
        }
    }

    /** No neighbour candidates. */
    public PlacementConfig(double tau, double levelWeight, double priorWeight, double newBlockWeight, double margin,
                           double tauFactor, int tauChoices, int adaptWindow, double adaptKeep, double adaptHysteresis,
                           int shadowBlocks) {
        this(tau, levelWeight, priorWeight, newBlockWeight, margin, tauFactor, tauChoices, adaptWindow, adaptKeep, adaptHysteresis,
                shadowBlocks, 0, 0, 0, DEFAULT_NEIGHBOUR_REACH, DEFAULT_NEIGHBOUR_FAR_SHARE, DEFAULT_COUNT_CAP, DEFAULT_COUNT_CAP_FROM_TAU);
    }

    /** The default neighbour reach and far share and count cap. */
    public PlacementConfig(double tau, double levelWeight, double priorWeight, double newBlockWeight, double margin,
                           double tauFactor, int tauChoices, int adaptWindow, double adaptKeep, double adaptHysteresis,
                           int shadowBlocks, double neighbourWeight, int neighbourChoices, double neighbourHysteresis) {
        this(tau, levelWeight, priorWeight, newBlockWeight, margin, tauFactor, tauChoices, adaptWindow, adaptKeep, adaptHysteresis,
                shadowBlocks, neighbourWeight, neighbourChoices, neighbourHysteresis, DEFAULT_NEIGHBOUR_REACH,
                DEFAULT_NEIGHBOUR_FAR_SHARE, DEFAULT_COUNT_CAP, DEFAULT_COUNT_CAP_FROM_TAU);
    }

    /** One fixed time constant, no adaptation. */
    public PlacementConfig(double tau, double levelWeight, double priorWeight, double newBlockWeight, double margin) {
        this(tau, levelWeight, priorWeight, newBlockWeight, margin, DEFAULT_TAU_FACTOR, 1, DEFAULT_ADAPT_WINDOW, DEFAULT_ADAPT_KEEP,
                DEFAULT_ADAPT_HYSTERESIS, DEFAULT_SHADOW_BLOCKS);
    }

    /** The defaults, with any {@code -Dtierkv.placement.*} overrides; a malformed one is an error naming it. */
    public static PlacementConfig defaults() {
        if (propertyError != null) {
            throw new IllegalArgumentException("placement: " + propertyError);
        }
        return new PlacementConfig(DEFAULT_TAU, DEFAULT_LEVEL_WEIGHT, DEFAULT_PRIOR_WEIGHT, DEFAULT_NEW_BLOCK_WEIGHT, DEFAULT_MARGIN,
                DEFAULT_TAU_FACTOR, DEFAULT_TAU_CHOICES, DEFAULT_ADAPT_WINDOW, DEFAULT_ADAPT_KEEP, DEFAULT_ADAPT_HYSTERESIS,
                DEFAULT_SHADOW_BLOCKS, DEFAULT_NEIGHBOUR_WEIGHT, DEFAULT_NEIGHBOUR_CHOICES, DEFAULT_NEIGHBOUR_HYSTERESIS,
                DEFAULT_NEIGHBOUR_REACH, DEFAULT_NEIGHBOUR_FAR_SHARE, DEFAULT_COUNT_CAP, DEFAULT_COUNT_CAP_FROM_TAU);
    }

    /** The same knobs with another time constant or set of candidates. */
    public PlacementConfig withTaus(double newTau, int choices) {
        return new PlacementConfig(newTau, levelWeight, priorWeight, newBlockWeight, margin, tauFactor, choices, adaptWindow, adaptKeep,
                adaptHysteresis, shadowBlocks, neighbourWeight, neighbourChoices, neighbourHysteresis, neighbourReach, neighbourFarShare,
                countCap, countCapFromTau);
    }

    /** The candidate time constants, shortest first. */
    public double[] taus() {
        double[] t = new double[tauChoices];
        for (int j = 0; j < tauChoices; j++) {
            t[j] = tau * Math.pow(tauFactor, j - startIndex());
        }
        return t;
    }

    /** Index of {@link #tau} among {@link #taus()}. */
    public int startIndex() {
        return (tauChoices - 1) / 2;
    }
}

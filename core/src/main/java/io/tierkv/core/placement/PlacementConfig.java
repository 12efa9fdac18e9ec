package io.tierkv.core.placement;

/**
 * The knobs of {@link Placement}, every default in one place. Values are in units of one top-k request;
 * weights that multiply are given as counts and enter the value as their logarithm.
 *
 * @param tau             time constant of the decay of a block's request count, in steps; with adaptation, the
 *                        candidate the placement starts with
 * @param levelWeight     value added per level above LOW (CACHE +2w, NORMAL +w, LOW 0, EVICT -w), in ln units
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
 */
public record PlacementConfig(double tau, double levelWeight, double priorWeight, double newBlockWeight, double margin,
                              double tauFactor, int tauChoices, int adaptWindow, double adaptKeep, double adaptHysteresis,
                              int shadowBlocks, double neighbourWeight, int neighbourChoices, double neighbourHysteresis) {
    /**
     * Prompt queries whose attention seeds the prompt blocks' values: the last 32, SnapKV's observation window
     * (runtime, recorded traces and synthetic traces alike).
     */
    public static final int PRIOR_QUERIES = 32;

    public static final double DEFAULT_TAU = Double.parseDouble(System.getProperty("tierkv.placement.tau", "16"));
    public static final double DEFAULT_LEVEL_WEIGHT = Double.parseDouble(System.getProperty("tierkv.placement.level", "0.25"));
    public static final double DEFAULT_PRIOR_WEIGHT = Double.parseDouble(System.getProperty("tierkv.placement.prior", "1"));
    public static final double DEFAULT_NEW_BLOCK_WEIGHT = Double.parseDouble(System.getProperty("tierkv.placement.fresh", "0.2"));
    public static final double DEFAULT_MARGIN = Double.parseDouble(System.getProperty("tierkv.placement.margin", "0"));
    public static final double DEFAULT_TAU_FACTOR = Double.parseDouble(System.getProperty("tierkv.placement.tauFactor", "4"));
    public static final int DEFAULT_TAU_CHOICES = Integer.parseInt(System.getProperty("tierkv.placement.tauChoices", "4"));
    public static final int DEFAULT_ADAPT_WINDOW = Integer.parseInt(System.getProperty("tierkv.placement.adaptWindow", "32"));
    public static final double DEFAULT_ADAPT_KEEP = Double.parseDouble(System.getProperty("tierkv.placement.adaptKeep", "0.5"));
    public static final double DEFAULT_ADAPT_HYSTERESIS = Double.parseDouble(System.getProperty("tierkv.placement.adaptHysteresis", "0"));
    public static final int DEFAULT_SHADOW_BLOCKS = Integer.parseInt(System.getProperty("tierkv.placement.shadowBlocks", "4096"));
    public static final double DEFAULT_NEIGHBOUR_WEIGHT = Double.parseDouble(System.getProperty("tierkv.placement.neighbour", "0.02"));
    public static final int DEFAULT_NEIGHBOUR_CHOICES = Integer.parseInt(System.getProperty("tierkv.placement.neighbourChoices", "2"));
    public static final double DEFAULT_NEIGHBOUR_HYSTERESIS = Double.parseDouble(System.getProperty("tierkv.placement.neighbourHysteresis", "0.05"));

    public PlacementConfig {
        if (!(tau > 0) || !(priorWeight >= 0) || !(newBlockWeight > 0) || !(margin >= 0) || Double.isNaN(levelWeight)
                || !(tauFactor > 1) || tauChoices < 1 || adaptWindow < 1 || !(adaptKeep >= 0 && adaptKeep < 1)
                || !(adaptHysteresis >= 0 && adaptHysteresis < 1) || shadowBlocks < 1 || !(neighbourWeight >= 0) || neighbourChoices < 0
                || !(neighbourHysteresis >= 0 && neighbourHysteresis < 1)) {
            throw new IllegalArgumentException("placement needs tau > 0, priorWeight >= 0, newBlockWeight > 0, margin >= 0,"
                    + " tauFactor > 1, tauChoices >= 1, adaptWindow >= 1, adaptKeep and adaptHysteresis in [0, 1), shadowBlocks >= 1, neighbourWeight and neighbourChoices >= 0, neighbourHysteresis in [0, 1); got " + this);
        }
    }

    /** No neighbour candidates. */
    public PlacementConfig(double tau, double levelWeight, double priorWeight, double newBlockWeight, double margin,
                           double tauFactor, int tauChoices, int adaptWindow, double adaptKeep, double adaptHysteresis,
                           int shadowBlocks) {
        this(tau, levelWeight, priorWeight, newBlockWeight, margin, tauFactor, tauChoices, adaptWindow, adaptKeep, adaptHysteresis,
                shadowBlocks, 0, 0, 0);
    }

    /** One fixed time constant, no adaptation. */
    public PlacementConfig(double tau, double levelWeight, double priorWeight, double newBlockWeight, double margin) {
        this(tau, levelWeight, priorWeight, newBlockWeight, margin, DEFAULT_TAU_FACTOR, 1, DEFAULT_ADAPT_WINDOW, DEFAULT_ADAPT_KEEP,
                DEFAULT_ADAPT_HYSTERESIS, DEFAULT_SHADOW_BLOCKS);
    }

    public static PlacementConfig defaults() {
        return new PlacementConfig(DEFAULT_TAU, DEFAULT_LEVEL_WEIGHT, DEFAULT_PRIOR_WEIGHT, DEFAULT_NEW_BLOCK_WEIGHT, DEFAULT_MARGIN,
                DEFAULT_TAU_FACTOR, DEFAULT_TAU_CHOICES, DEFAULT_ADAPT_WINDOW, DEFAULT_ADAPT_KEEP, DEFAULT_ADAPT_HYSTERESIS,
                DEFAULT_SHADOW_BLOCKS, DEFAULT_NEIGHBOUR_WEIGHT, DEFAULT_NEIGHBOUR_CHOICES, DEFAULT_NEIGHBOUR_HYSTERESIS);
    }

    /** The same knobs with another time constant or set of candidates. */
    public PlacementConfig withTaus(double newTau, int choices) {
        return new PlacementConfig(newTau, levelWeight, priorWeight, newBlockWeight, margin, tauFactor, choices, adaptWindow, adaptKeep,
                adaptHysteresis, shadowBlocks, neighbourWeight, neighbourChoices, neighbourHysteresis);
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

package io.tierkv.core.placement;

/**
 * The knobs of {@link Placement}, every default in one place. Values are in units of one top-k request;
 * weights that multiply are given as counts and enter the value as their logarithm.
 *
 * @param tau            time constant of the decay of a block's request count, in steps
 * @param levelWeight    value added per level above LOW (CACHE +2w, NORMAL +w, LOW 0, EVICT -w), in ln units
 * @param priorWeight    requests one unit of prefill attention counts for ({@link Placement#prior})
 * @param newBlockWeight the count a block that was never requested starts with when it leaves the tail
 * @param margin         how much more (ln units) a host block must be worth than the victim to be promoted
 */
public record PlacementConfig(double tau, double levelWeight, double priorWeight, double newBlockWeight, double margin) {
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

    public PlacementConfig {
        if (!(tau > 0) || !(priorWeight >= 0) || !(newBlockWeight > 0) || !(margin >= 0) || Double.isNaN(levelWeight)) {
            throw new IllegalArgumentException("placement needs tau > 0, priorWeight >= 0, newBlockWeight > 0, margin >= 0; got "
                    + this);
        }
    }

    public static PlacementConfig defaults() {
        return new PlacementConfig(DEFAULT_TAU, DEFAULT_LEVEL_WEIGHT, DEFAULT_PRIOR_WEIGHT, DEFAULT_NEW_BLOCK_WEIGHT, DEFAULT_MARGIN);
    }
}

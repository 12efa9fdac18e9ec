package io.tierkv.bench.sim;

/**
 * One row of a simulation: a policy at a budget, its counters and the figures derived from them. The
 * ratios to the clairvoyant policy at the same budget are filled in once every run is done.
 *
 * @param policy                   the policy's registry name
 * @param budget                   the budget as given ({@code 0.25}, {@code 64b})
 * @param budgetBlocks             device blocks over all layers, tail blocks included
 * @param budgetFraction           budgetBlocks over all blocks of the final sequence
 * @param blockBytes               bytes of one block (K and V of blockSize tokens of one layer)
 * @param stats                    the raw counters
 * @param seconds                  wall time of the replay
 * @param missRatioToClairvoyant   misses over clairvoyant's misses (null if clairvoyant had none)
 * @param bytesRatioToClairvoyant  bytes moved (both ways) over clairvoyant's (null if it moved none)
 */
public record SimResult(String policy, String budget, int budgetBlocks, double budgetFraction, long blockBytes, SimStats stats,
                        double seconds, Double missRatioToClairvoyant, Double bytesRatioToClairvoyant) {

    /** Device hit ratio: block requests served from the device. */
    public double hitRatio() {
        return ratio(stats.hits, stats.requests);
    }

    /** Share of top-k positions that were live and on the device. */
    public double positionHitRatio() {
        return ratio(stats.positionHits, stats.positions);
    }

    public double missesPerToken() {
        return perToken(stats.misses);
    }

    public double lostPerToken() {
        return perToken(stats.lost);
    }

    public double h2dBlocksPerToken() {
        return perToken(stats.h2dBlocks);
    }

    public double d2hBlocksPerToken() {
        return perToken(stats.d2hBlocks);
    }

    public double h2dBytesPerToken() {
        return perToken(stats.h2dBlocks) * blockBytes;
    }

    public double d2hBytesPerToken() {
        return perToken(stats.d2hBlocks) * blockBytes;
    }

    /** Bytes moved both ways per generated token. */
    public double bytesPerToken() {
        return h2dBytesPerToken() + d2hBytesPerToken();
    }

    /** This row with its ratios to the clairvoyant row of the same budget. */
    public SimResult withRatiosTo(SimResult clairvoyant) {
        Double misses = clairvoyant.stats.misses == 0 ? null : (double) stats.misses / clairvoyant.stats.misses;
        long opt = clairvoyant.stats.h2dBlocks + clairvoyant.stats.d2hBlocks;
        Double bytes = opt == 0 ? null : (double) (stats.h2dBlocks + stats.d2hBlocks) / opt;
        return new SimResult(policy, budget, budgetBlocks, budgetFraction, blockBytes, stats, seconds, misses, bytes);
    }

    private double perToken(long n) {
        return stats.steps == 0 ? 0 : (double) n / stats.steps;
    }

    private static double ratio(long a, long b) {
        return b == 0 ? 1.0 : (double) a / b;
    }
}

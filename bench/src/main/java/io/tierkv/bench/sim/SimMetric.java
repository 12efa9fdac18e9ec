package io.tierkv.bench.sim;

import java.util.function.Function;

/**
 * Every figure a simulation reports, named once, so JSON, CSV, the terminal table and the plots print
 * every policy the same way. The names are the JSON and CSV field names.
 */
public enum SimMetric {
    POLICY("policy", "policy registry name", "%s", SimResult::policy),
    BUDGET("budget", "device budget as given: fraction of the final sequence per layer, or blocks (64b) over all layers", "%s",
            SimResult::budget),
    BUDGET_BLOCKS("budgetBlocks", "device blocks over all layers, tail blocks included", "%d", SimResult::budgetBlocks),
    BUDGET_FRACTION("budgetFraction", "budgetBlocks over all blocks of the final sequence", "%.3f", SimResult::budgetFraction),
    STEPS("steps", "generated tokens replayed", "%d", r -> r.stats().steps),
    REQUESTS("requests", "block requests (blocks touched by a layer's top-k at a step)", "%d", r -> r.stats().requests),
    HITS("hits", "requests on device-resident blocks (the tail block always is)", "%d", r -> r.stats().hits),
    MISSES("misses", "requests not served from the device, lost ones included", "%d", r -> r.stats().misses),
    LOST("lost", "requests whose tokens the policy had evicted: unservable, nothing moved", "%d", r -> r.stats().lost),
    HIT_RATIO("hitRatio", "device hit ratio: hits / requests (Belady bounds this)", "%.4f", SimResult::hitRatio),
    POSITION_HIT_RATIO("positionHitRatio", "share of top-k positions live and on the device", "%.4f", SimResult::positionHitRatio),
    MISSES_PER_TOKEN("missesPerToken", "misses per generated token", "%.3f", SimResult::missesPerToken),
    LOST_PER_TOKEN("lostPerToken", "lost requests per generated token", "%.3f", SimResult::lostPerToken),
    H2D_BLOCKS_PER_TOKEN("h2dBlocksPerToken", "blocks copied host to device per generated token", "%.3f", SimResult::h2dBlocksPerToken),
    D2H_BLOCKS_PER_TOKEN("d2hBlocksPerToken", "blocks copied device to host per generated token", "%.3f", SimResult::d2hBlocksPerToken),
    H2D_BYTES_PER_TOKEN("h2dBytesPerToken", "bytes copied host to device per generated token", "%.0f", SimResult::h2dBytesPerToken),
    D2H_BYTES_PER_TOKEN("d2hBytesPerToken", "bytes copied device to host per generated token", "%.0f", SimResult::d2hBytesPerToken),
    HOST_BYTES_READ_PER_TOKEN("hostBytesReadPerToken", "host-tier bytes attention read per generated token (--host-read)", "%.0f",
            r -> r.stats().steps == 0 ? 0.0 : r.stats().hostBlocksRead * (double) r.blockBytes() / r.stats().steps),
    HOST_READ_FRACTION("hostReadFraction", "host bytes read / bytes an exact read would read", "%.3f",
            r -> r.stats().hostBlocksExact == 0 ? 1.0 : r.stats().hostBlocksRead / (double) r.stats().hostBlocksExact),
    SKIPPED_PER_TOKEN("skippedRequestsPerToken", "digest mode: requested host blocks past the N read, per generated token", "%.3f",
            r -> r.stats().steps == 0 ? 0.0 : r.stats().skippedRequests / (double) r.stats().steps),
    EVICTIONS("evictions", "blocks that left the device while generating (to the host or freed)", "%d", r -> r.stats().evictions),
    DROPS("drops", "blocks freed while generating because all their tokens were evicted", "%d", r -> r.stats().drops),
    PREFILL_D2H_BLOCKS("prefillD2hBlocks", "blocks the prompt placed on the host (not in the per-token figures)", "%d",
            r -> r.stats().prefillD2hBlocks),
    PEAK_DEVICE_BLOCKS("peakDeviceBlocks", "most device blocks held at once, tail blocks excluded", "%d",
            r -> r.stats().peakDeviceBlocks),
    MISS_RATIO_TO_CLAIRVOYANT("missRatioToClairvoyant", "misses over clairvoyant's at the same budget (>= 1)", "%.2f",
            SimResult::missRatioToClairvoyant),
    BYTES_RATIO_TO_CLAIRVOYANT("bytesRatioToClairvoyant", "bytes moved (both ways) over clairvoyant's at the same budget", "%.2f",
            SimResult::bytesRatioToClairvoyant),
    SECONDS("seconds", "wall time of the replay", "%.2f", SimResult::seconds);

    private final String field;
    private final String description;
    private final String format;
    private final Function<SimResult, Object> value;

    SimMetric(String field, String description, String format, Function<SimResult, Object> value) {
        this.field = field;
        this.description = description;
        this.format = format;
        this.value = value;
    }

    /** The JSON/CSV field name. */
    public String field() {
        return field;
    }

    public String description() {
        return description;
    }

    /** A {@link String#format} pattern for tables. */
    public String format() {
        return format;
    }

    public Object of(SimResult r) {
        return value.apply(r);
    }
}

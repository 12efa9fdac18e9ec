package io.tierkv.model.generate;

/**
 * Where decode time goes, accumulated by {@link TieredDecoder#forward}: the whole call, the policy's
 * share (attention probabilities to the counter, the counter, window closes) and the tier bookkeeping
 * (appends, views and masks, steps that carry out transitions). The rest is the model's math.
 */
public final class DecodeProfile {
    private long totalNanos;
    private long policyNanos;
    private long tierNanos;
    private long calls;

    void addTotal(long nanos) {
        totalNanos += nanos;
        calls++;
    }

    void addPolicy(long nanos) {
        policyNanos += nanos;
    }

    void addTier(long nanos) {
        tierNanos += nanos;
    }

    /** Adds another profile's figures to this one. */
    public void add(DecodeProfile other) {
        totalNanos += other.totalNanos;
        policyNanos += other.policyNanos;
        tierNanos += other.tierNanos;
        calls += other.calls;
    }

    public long totalNanos() {
        return totalNanos;
    }

    public long policyNanos() {
        return policyNanos;
    }

    public long tierNanos() {
        return tierNanos;
    }

    public long calls() {
        return calls;
    }

    /** Share of the total spent on popularity counting and tier bookkeeping together. */
    public double overheadShare() {
        return totalNanos == 0 ? 0 : (policyNanos + tierNanos) / (double) totalNanos;
    }

    public void reset() {
        totalNanos = 0;
        policyNanos = 0;
        tierNanos = 0;
        calls = 0;
    }
}

package io.tierkv.core.policy;

import io.tierkv.core.popularity.PopularityCounter;
import io.tierkv.core.popularity.PopularityCounters;

/**
 * What a policy learns about the sequence when it starts.
 *
 * @param layers       number of transformer layers (each layer's tokens are judged separately)
 * @param promptLength tokens in the prompt (0 when unknown, as in a synthetic trace)
 * @param budgetTokens tokens each layer may keep (baselines) or keep on the device (hierarchical);
 *                     {@link #UNBOUNDED} for no limit
 * @param counter      the popularity counter to use (Java or CUDA)
 */
public record PolicyContext(int layers, int promptLength, int budgetTokens, PopularityCounter counter) {

    /** No budget. */
    public static final int UNBOUNDED = Integer.MAX_VALUE;

    public PolicyContext {
        if (layers <= 0) {
            throw new IllegalArgumentException("layers must be > 0, was " + layers);
        }
        if (promptLength < 0) {
            throw new IllegalArgumentException("promptLength must be >= 0, was " + promptLength);
        }
        if (budgetTokens <= 0) {
            throw new IllegalArgumentException("budgetTokens must be > 0, was " + budgetTokens);
        }
        if (counter == null) {
            throw new IllegalArgumentException("counter must not be null");
        }
    }

    /** An unbounded context with the default Java counter. */
    public static PolicyContext unbounded(int layers, int promptLength) {
        return new PolicyContext(layers, promptLength, UNBOUNDED, PopularityCounters.java());
    }

    /** A bounded context with the default Java counter. */
    public static PolicyContext bounded(int layers, int promptLength, int budgetTokens) {
        return new PolicyContext(layers, promptLength, budgetTokens, PopularityCounters.java());
    }

    public boolean bounded() {
        return budgetTokens != UNBOUNDED;
    }
}

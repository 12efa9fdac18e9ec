package io.tierkv.core.policy;

import io.tierkv.core.Transitions;

/** No eviction: every token stays at NORMAL forever. The accuracy baseline. */
public final class FullPolicy extends AbstractKvPolicy {

    static KvPolicy create(PolicyOptions options) {
        options.finish();
        return new FullPolicy();
    }

    @Override
    public String name() {
        return "full";
    }

    @Override
    public boolean observesAttention() {
        return false;
    }

    @Override
    public void observe(int layer, int queryPosition, float[] probs, int offset, int heads, int stride, int keys) {
    }

    @Override
    public void endPrefill(Transitions out) {
    }

    @Override
    public void step(Transitions out) {
    }

    @Override
    public void checkInvariants() {
        super.checkInvariants();
        for (int l = 0; l < layers; l++) {
            if (live[l] != length) {
                throw new IllegalStateException("full: layer " + l + " lost " + (length - live[l]) + " tokens");
            }
        }
    }
}

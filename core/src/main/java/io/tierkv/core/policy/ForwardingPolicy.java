package io.tierkv.core.policy;

import io.tierkv.core.Transitions;
import io.tierkv.core.placement.TierMode;

/**
 * A policy that passes every call to another one (Guava's {@code Forwarding*} pattern): a wrapper that records or
 * inspects a policy overrides only the calls it changes, and a method added to {@link KvPolicy} later is forwarded
 * here once instead of falling back, unnoticed, to the interface's default in every wrapper.
 */
public abstract class ForwardingPolicy implements KvPolicy {
    /** The wrapped policy. */
    protected final KvPolicy delegate;

    protected ForwardingPolicy(KvPolicy delegate) {
        if (delegate == null) {
            throw new IllegalArgumentException("the wrapped policy must not be null");
        }
        this.delegate = delegate;
    }

    @Override
    public String name() {
        return delegate.name();
    }

    @Override
    public void start(PolicyContext context) {
        delegate.start(context);
    }

    @Override
    public int prefillRows(int promptLength) {
        return delegate.prefillRows(promptLength);
    }

    @Override
    public boolean observesAttention() {
        return delegate.observesAttention();
    }

    @Override
    public int observedTopK() {
        return delegate.observedTopK();
    }

    @Override
    public void append(int count) {
        delegate.append(count);
    }

    @Override
    public void observe(int layer, int queryPosition, float[] probs, int offset, int heads, int stride, int keys) {
        delegate.observe(layer, queryPosition, probs, offset, heads, stride, keys);
    }

    @Override
    public void observeSelected(int layer, int[] positions, int n) {
        delegate.observeSelected(layer, positions, n);
    }

    @Override
    public void endPrefill(Transitions out) {
        delegate.endPrefill(out);
    }

    @Override
    public void step(Transitions out) {
        delegate.step(out);
    }

    @Override
    public TierMode tierMode() {
        return delegate.tierMode();
    }

    @Override
    public byte level(int layer, int token) {
        return delegate.level(layer, token);
    }

    @Override
    public int length() {
        return delegate.length();
    }

    @Override
    public int liveTokens(int layer) {
        return delegate.liveTokens(layer);
    }

    @Override
    public int heat(int layer, int token) {
        return delegate.heat(layer, token);
    }

    @Override
    public void checkInvariants() {
        delegate.checkInvariants();
    }
}

package io.tierkv.model.cuda;

import io.tierkv.core.policy.KvPolicy;
import io.tierkv.core.policy.PolicyContext;
import io.tierkv.core.Transitions;
import io.tierkv.cuda.popularity.RadixSelectPopularityCounter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A KV policy that passes everything to its delegate and records, per decode step and layer, the top-k positions the
 * policy was shown after the prefill: from {@link #observeSelected} as given (the CUDA decoder's device selection), or
 * selected from {@link #observe}'s probabilities by the popularity contract (the libtorch decoder's), ascending.
 */
final class SelectionRecorder implements KvPolicy {
    private final KvPolicy delegate;
    private final int k;
    private final RadixSelectPopularityCounter counter = new RadixSelectPopularityCounter();
    private final List<int[][]> steps = new ArrayList<>();
    private int layers;
    private int[][] current;
    private boolean decoding;

    SelectionRecorder(KvPolicy delegate, int k) {
        this.delegate = delegate;
        this.k = k;
    }

    /** Per decode step, per layer: the selected positions, ascending. */
    List<int[][]> steps() {
        return steps;
    }

    private void record(int layer, int[] positions) {
        if (!decoding) {
            return;
        }
        if (current == null) {
            current = new int[layers][];
            steps.add(current);
        }
        current[layer] = positions;
    }

    @Override
    public String name() {
        return delegate.name();
    }

    @Override
    public void start(PolicyContext context) {
        layers = context.layers();
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
    public void append(int count) {
        delegate.append(count);
    }

    @Override
    public void observe(int layer, int queryPosition, float[] probs, int offset, int heads, int stride, int keys) {
        int[] out = new int[k];
        int n = counter.selectTopK(probs, offset, heads, stride, keys, k, out);
        int[] sorted = Arrays.copyOf(out, n);
        Arrays.sort(sorted);
        record(layer, sorted);
        delegate.observe(layer, queryPosition, probs, offset, heads, stride, keys);
    }

    @Override
    public void observeSelected(int layer, int[] positions, int n) {
        record(layer, Arrays.copyOf(positions, n));
        delegate.observeSelected(layer, positions, n);
    }

    @Override
    public void endPrefill(Transitions out) {
        decoding = true;
        delegate.endPrefill(out);
    }

    @Override
    public void step(Transitions out) {
        current = null;
        delegate.step(out);
    }

    @Override
    public io.tierkv.core.placement.TierMode tierMode() {
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

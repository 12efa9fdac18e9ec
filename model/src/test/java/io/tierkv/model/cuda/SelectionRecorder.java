package io.tierkv.model.cuda;

import io.tierkv.core.policy.ForwardingPolicy;
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
final class SelectionRecorder extends ForwardingPolicy {
    private final int k;
    private final RadixSelectPopularityCounter counter = new RadixSelectPopularityCounter();
    private final List<int[][]> steps = new ArrayList<>();
    private int layers;
    private int[][] current;
    private boolean decoding;

    SelectionRecorder(KvPolicy delegate, int k) {
        super(delegate);
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
    public void start(PolicyContext context) {
        layers = context.layers();
        delegate.start(context);
    }

    /** 0, as before: the libtorch decoder hands over whole rows, and this selects from them by the popularity contract. */
    @Override
    public int observedTopK() {
        return 0;
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
}

package io.tierkv.model.generate;

import io.tierkv.core.Transitions;
import io.tierkv.core.policy.ForwardingPolicy;
import io.tierkv.core.policy.KvPolicy;
import io.tierkv.core.popularity.FastPopularityCounter;
import io.tierkv.core.trace.TraceStep;
import io.tierkv.core.trace.TraceWriter;
import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * Wraps a policy and writes a trace while it runs: for every generated token, each layer's top-k
 * positions of the head-summed attention (the same selection as the popularity counter), and once the
 * prompt's own attention per prompt block (the prefill record). Everything else is passed through unchanged.
 */
public final class RecordingPolicy extends ForwardingPolicy {
    private final TraceWriter writer;
    private final TraceStep step;
    private final int k;
    private final FastPopularityCounter counter = new FastPopularityCounter();
    private int[] scratch;
    private boolean generating;
    private int recorded;
    private java.util.function.Supplier<int[][]> prefill = () -> null;

    public RecordingPolicy(KvPolicy delegate, TraceWriter writer) {
        super(delegate);
        this.writer = writer;
        this.step = writer.header().newStep();
        this.k = writer.header().topK();
        this.scratch = new int[k];
    }

    /**
     * Where the prompt's own attention per prompt block comes from (the sequence's placement prior), written as
     * the trace's prefill record at the end of the prefill.
     */
    public void prefillFrom(java.util.function.Supplier<int[][]> counts) {
        this.prefill = counts;
    }

    /** Generated tokens written so far. */
    public int recorded() {
        return recorded;
    }

    @Override
    public boolean observesAttention() {
        return true;
    }

    /** 0: the trace's own selection is made in {@link #observe}, so the sequence must hand over whole rows. */
    @Override
    public int observedTopK() {
        return 0;
    }

    @Override
    public void observe(int layer, int queryPosition, float[] probs, int offset, int heads, int stride, int keys) {
        if (generating) {
            int n = counter.selectTopK(probs, offset, heads, stride, keys, k, scratch);
            step.set(layer, scratch, n);
        }
        if (delegate.observesAttention()) {
            delegate.observe(layer, queryPosition, probs, offset, heads, stride, keys);
        }
    }

    @Override
    public void endPrefill(Transitions out) {
        delegate.endPrefill(out);
        int[][] counts = prefill.get();
        if (counts != null) {
            writer.prefill(counts);
        }
        generating = true;
    }

    @Override
    public void step(Transitions out) {
        if (generating) {
            step.setStep(recorded);
            try {
                writer.write(step);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot write the trace: " + e.getMessage(), e);
            }
            recorded++;
        }
        delegate.step(out);
    }
}

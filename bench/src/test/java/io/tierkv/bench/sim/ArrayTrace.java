package io.tierkv.bench.sim;

import io.tierkv.core.DType;
import io.tierkv.core.KvLayout;
import io.tierkv.core.trace.TraceHeader;
import io.tierkv.core.trace.TraceSource;
import io.tierkv.core.trace.TraceStep;

/** A hand-written trace in memory: {@code steps[s][layer]} are the ascending top-k positions. */
final class ArrayTrace implements TraceSource {
    private final TraceHeader header;
    private final int[][][] steps;
    private int next;

    ArrayTrace(int blockSize, int promptLength, int k, int[][][] steps) {
        this.header = new TraceHeader(new KvLayout(steps.length == 0 ? 1 : steps[0].length, 1, 8, DType.F32, blockSize), k,
                promptLength, steps.length, "hand-written");
        this.steps = steps;
    }

    /** One layer: {@code positions[s]} are step s's positions. */
    static ArrayTrace oneLayer(int blockSize, int promptLength, int k, int[]... positions) {
        int[][][] s = new int[positions.length][1][];
        for (int i = 0; i < positions.length; i++) {
            s[i][0] = positions[i];
        }
        return new ArrayTrace(blockSize, promptLength, k, s);
    }

    /** A fresh copy for another replay. */
    ArrayTrace reopen() {
        return new ArrayTrace(header.layout().blockSize(), header.promptLength(), header.topK(), steps);
    }

    @Override
    public TraceHeader header() {
        return header;
    }

    @Override
    public boolean next(TraceStep step) {
        if (next == steps.length) {
            return false;
        }
        for (int l = 0; l < steps[next].length; l++) {
            step.set(l, steps[next][l], steps[next][l].length);
        }
        step.setStep(next++);
        return true;
    }

    @Override
    public void close() {
    }
}

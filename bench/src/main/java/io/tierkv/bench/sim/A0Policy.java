package io.tierkv.bench.sim;

import io.tierkv.core.placement.IndexedMinHeap;
import io.tierkv.core.policy.PolicyOptions;
import io.tierkv.core.trace.SyntheticTrace;
import io.tierkv.core.trace.SyntheticTraceConfig;
import io.tierkv.core.trace.TraceHeader;
import io.tierkv.core.trace.TraceStep;
import java.util.Arrays;

/**
 * A0 (Aho, Denning and Ullman, 1971) with the synthetic generator's own knowledge: at every step the device keeps the
 * blocks a draw is most likely to land in ({@link SyntheticTrace#drawProbabilities}), fetches a requested host block
 * when it is more likely than the device's least likely one, and otherwise reads it in place. Under independent
 * references A0 is the optimal online policy; here it knows at each step which spans are popular and how popular,
 * which a policy that learns from requests can only estimate. It is no bound (the popular set drifts and draws are
 * de-duplicated, so references are not independent; in the revisit family attention returns to passages it has
 * forgotten and {@code hierarchical} beats it), but on the default family it is the yardstick for such a placement
 * (fetching on demand, as the runtime does): what lies between it and {@code hierarchical} is estimation, what
 * lies between it and {@code clairvoyant} is mostly the future.
 *
 * <p>It regenerates the trace from the header's description and checks every step against it: synthetic traces
 * only, unmodified. Values are re-keyed only where they changed (the recent window, drifted spans), with the
 * recall share left out of the key since it is the same for every block it covers.
 */
final class A0Policy extends AbstractSimPolicy {
    private SyntheticTrace generator;
    private TraceStep truth;
    /** (layer, block) the current draw probabilities, the recall share left out. */
    private double[][] probability;
    /** (block) one layer's probabilities as the generator gives them. */
    private double[] drawn;
    private IndexedMinHeap device;
    private int step;

    static SimPolicy create(PolicyOptions options) {
        options.finish();
        return new A0Policy();
    }

    @Override
    public String name() {
        return "a0";
    }

    @Override
    protected void onStart() {
        TraceHeader h = context.header();
        SyntheticTraceConfig config;
        try {
            config = SyntheticTraceConfig.parse(h.source(), h.layout());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("a0 needs a synthetic trace (tierkv trace synth), whose header names its generator; "
                    + "this one's source is '" + h.source() + "'", e);
        }
        generator = new SyntheticTrace(config);
        truth = generator.header().newStep();
        probability = new double[context.layers()][context.blocksPerLayer() + 1];
        drawn = new double[context.blocksPerLayer() + 1];
        device = new IndexedMinHeap(context.blockIds());
    }

    /** The prompt's blocks go to the device most likely first. */
    @Override
    public void prefill(int fullBlocks) {
        refresh(context.promptLength());
        Integer[] order = new Integer[fullBlocks * context.layers()];
        for (int b = 0, k = 0; b < fullBlocks; b++) {
            for (int l = 0; l < context.layers(); l++) {
                order[k++] = context.id(l, b);
            }
        }
        Arrays.sort(order, (x, y) -> Double.compare(value(y), value(x)));
        for (int id : order) {
            if (residency.hasRoom()) {
                toDevice(id, true);
            } else {
                residency.admitToHost(id);
            }
        }
    }

    /** Steps the generator with the replay and takes its probabilities for this step's draws. */
    @Override
    public void append() {
        if (!generator.next(truth)) {
            throw new IllegalStateException("a0: the trace has more steps than its generator (" + step + ")");
        }
        refresh(context.promptLength() + step + 1);
    }

    private void refresh(int length) {
        int bs = context.blockSize();
        int blocks = Math.min(context.blocksPerLayer(), (length + bs - 1) / bs);
        SyntheticTraceConfig c = generator.config();
        int old = Math.max(1, length - c.recentWindow());
        for (int l = 0; l < context.layers(); l++) {
            generator.drawProbabilities(l, length, drawn);
            double[] p = probability[l];
            for (int b = 0; b < blocks; b++) {
                // Without the recall share, which every whole old block has alike and which changes with every
                // token: so only blocks whose popularity or recency changed are re-keyed.
                int recalled = Math.max(0, Math.min(Math.min(length, (b + 1) * bs), old) - b * bs);
                double v = drawn[b] - c.recallShare() * recalled / old;
                if (v != p[b]) {
                    p[b] = v;
                    int id = context.id(l, b);
                    if (device.contains(id)) {
                        device.update(id, IndexedMinHeap.sortable(v));
                    }
                }
            }
        }
    }

    private double value(int id) {
        return probability[context.layerOf(id)][context.blockOf(id)];
    }

    private void toDevice(int id, boolean fresh) {
        if (fresh) {
            residency.admitToDevice(id);
        } else {
            residency.fetch(id);
        }
        device.add(id, IndexedMinHeap.sortable(value(id)));
    }

    /** Room, or a victim less likely than {@code id}: demoted. */
    private boolean makeRoomFor(int id) {
        if (residency.hasRoom()) {
            return true;
        }
        int victim = device.peek();
        if (value(victim) >= value(id)) {
            return false;
        }
        device.poll();
        residency.demote(victim);
        return true;
    }

    @Override
    public void admit(int layer, int block) {
        int id = context.id(layer, block);
        if (makeRoomFor(id)) {
            toDevice(id, true);
        } else {
            residency.admitToHost(id);
        }
    }

    @Override
    public void onHit(int layer, int block, int request) {
    }

    @Override
    public void onMiss(int layer, int block, int request) {
        int id = context.id(layer, block);
        if (makeRoomFor(id)) {
            toDevice(id, false);
        }
    }

    @Override
    public void observe(int layer, int[] positions, int n) {
        int[] expected = truth.positions(layer);
        if (truth.count(layer) != n || !Arrays.equals(expected, 0, n, positions, 0, n)) {
            throw new IllegalStateException("a0: step " + step + " of layer " + layer + " is not what the header's generator draws;"
                    + " a0 needs an unmodified synthetic trace");
        }
    }

    @Override
    public void endStep(int s) {
        step = s + 1;
    }

    @Override
    public void finished() {
        if (device.size() != residency.deviceBlocks()) {
            throw new IllegalStateException("a0 lists " + device.size() + " device blocks, the replay holds " + residency.deviceBlocks());
        }
        device.checkInvariants();
    }
}

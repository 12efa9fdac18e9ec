package io.tierkv.model.generate;

import java.util.List;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.T_TensorTensor_T;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

/**
 * What the device tier served, measured where attention is computed over the tiered cache
 * ({@link TieredDecoder}, every query of a decode step or a prompt chunk; not the dense prefill):
 *
 * <ul>
 *   <li>device attention share: the attention probability on device-resident keys, averaged over heads
 *       and then over queries and layers: the real counterpart of the simulator's hit ratio;</li>
 *   <li>device top-k share: of each head's {@link #TOP_K} most attended positions, the share on the device;</li>
 *   <li>device attention bound: the share the same number of device blocks would have served had they been the
 *       query's most attended blocks (its head-averaged attention summed per block, the best blocks taken): what
 *       any placement could serve at that step with that many device blocks, the ceiling of the share above;</li>
 *   <li>device attention token bound: the same with single tokens: the share the same number of device keys would have
 *       served had they been the query's most attended keys, whatever their blocks: the ceiling for any placement at any
 *       block size;</li>
 *   <li>host attention time: gathering the host blocks' keys and values, plus the host keys' share of the
 *       merged attention computation (an estimate: the parts are computed together).</li>
 * </ul>
 *
 * <p>Off until {@link #enable}d: measuring asks the attention for its probabilities, which costs a little.
 * Only the owner thread calls it.
 */
public final class DecodeMetrics {
    /** Positions per head and query in the top-k share. */
    public static final int TOP_K = 8;

    private boolean enabled;
    private double deviceMass;
    private double boundMass;
    private double tokenBoundMass;
    private long queryHeads;
    private long topkOnDevice;
    private long topkTotal;
    private long hostGatherNanos;
    private double hostAttendNanos;
    private long attendNanos;

    /**
     * Totals so far: divide through {@link #deviceAttentionShare} and {@link #deviceTopkShare}.
     *
     * @param deviceMass      summed device probability mass over (query, head, layer)
     * @param boundMass       the same for the best blocks of the same count (see the class comment)
     * @param tokenBoundMass  the same for the best keys of the same count
     * @param queryHeads      (query, head, layer) rows measured
     * @param topkOnDevice    top-k positions found on the device
     * @param topkTotal       top-k positions looked at
     * @param hostNanos       estimated time attending the host tier
     * @param attendNanos     time in the merged attention over both tiers
     */
    public record Snapshot(double deviceMass, double boundMass, double tokenBoundMass, long queryHeads, long topkOnDevice, long topkTotal,
                           double hostNanos, long attendNanos) {
        /** Device attention share, NaN when nothing was measured. */
        public double deviceAttentionShare() {
            return queryHeads == 0 ? Double.NaN : deviceMass / queryHeads;
        }

        /** The device attention share the best blocks of the same count would have reached; NaN when nothing was measured. */
        public double deviceAttentionBound() {
            return queryHeads == 0 ? Double.NaN : boundMass / queryHeads;
        }

        /** The device attention share the best keys of the same count would have reached; NaN when nothing was measured. */
        public double deviceAttentionTokenBound() {
            return queryHeads == 0 ? Double.NaN : tokenBoundMass / queryHeads;
        }

        /** Device top-k share, NaN when nothing was measured. */
        public double deviceTopkShare() {
            return topkTotal == 0 ? Double.NaN : topkOnDevice / (double) topkTotal;
        }

        /** The totals accumulated since {@code earlier}. */
        public Snapshot minus(Snapshot earlier) {
            return new Snapshot(deviceMass - earlier.deviceMass, boundMass - earlier.boundMass,
                    tokenBoundMass - earlier.tokenBoundMass, queryHeads - earlier.queryHeads,
                    topkOnDevice - earlier.topkOnDevice,
                    topkTotal - earlier.topkTotal, hostNanos - earlier.hostNanos, attendNanos - earlier.attendNanos);
        }

        /** Both totals added. */
        public Snapshot plus(Snapshot other) {
            return new Snapshot(deviceMass + other.deviceMass, boundMass + other.boundMass,
                    tokenBoundMass + other.tokenBoundMass, queryHeads + other.queryHeads,
                    topkOnDevice + other.topkOnDevice,
                    topkTotal + other.topkTotal, hostNanos + other.hostNanos, attendNanos + other.attendNanos);
        }

        public static final Snapshot EMPTY = new Snapshot(0, 0, 0, 0, 0, 0, 0, 0);
    }

    public void enable(boolean on) {
        this.enabled = on;
    }

    /** Whether the attention should hand over its probabilities for measuring. */
    public boolean enabled() {
        return enabled;
    }

    /** Time spent gathering one layer's host blocks for attention. */
    void hostGather(long nanos) {
        if (enabled) {
            hostGatherNanos += nanos;
        }
    }

    /**
     * One layer's merged attention: {@code deviceKeys} keys in the first part (the device's) when positive,
     * {@code hostKeys} in the last. Reads the unnormalised weights and the denominators of {@code r}.
     */
    void attended(int deviceKeys, int hostKeys, SplitAttention.Result r, long nanos) {
        attended(deviceKeys, hostKeys, 0, r, nanos);
    }

    /**
     * As above, with the parts laid out in whole blocks of {@code blockSize} keys (device blocks first), so that the
     * bound can be measured; 0 skips it.
     */
    void attended(int deviceKeys, int hostKeys, int blockSize, SplitAttention.Result r, long nanos) {
        if (!enabled) {
            return;
        }
        attendNanos += nanos;
        if (deviceKeys + hostKeys > 0) {
            hostAttendNanos += nanos * (hostKeys / (double) (deviceKeys + hostKeys));
        }
        List<Tensor> w = r.weights();
        if (w == null || w.isEmpty()) {
            return;
        }
        Tensor norm = r.normalizer();                         // (H, n, 1)
        long rows = norm.numel();
        queryHeads += rows;
        if (deviceKeys == 0) {
            topkTotal += rows * Math.min(TOP_K, hostKeys);
            return;
        }
        Tensor device = w.get(0);                             // (H, n, Nd)
        deviceMass += device.sum(new long[] {-1}, true, new org.bytedeco.pytorch.ScalarTypeOptional()).div(norm).sum().item_double();
        Tensor all = w.size() == 1 ? device : torch.cat(new TensorVector(w.toArray(new Tensor[0])), -1);
        long total = all.size(-1);
        long heads = norm.size(0);
        long n = norm.size(1);
        // head-averaged probability per key (n, total); the best deviceKeys of them
        Tensor perKey = all.div(norm).mean(new long[] {0}, false, new org.bytedeco.pytorch.ScalarTypeOptional());
        tokenBoundMass += heads * perKey.topk(deviceKeys, -1, true, false).get0().sum().item_double();
        if (blockSize > 0 && total % blockSize == 0 && deviceKeys % blockSize == 0) {
            // head-averaged probability per block (n, blocks); the best deviceKeys / blockSize of them
            Tensor perBlock = perKey.view(n, total / blockSize, blockSize).sum(new long[] {-1}, false, new org.bytedeco.pytorch.ScalarTypeOptional());
            T_TensorTensor_T best = perBlock.topk(deviceKeys / blockSize, -1, true, false);
            boundMass += heads * best.get0().sum().item_double();
        }
        long k = Math.min(TOP_K, all.size(-1));
        T_TensorTensor_T top = all.topk(k, -1, true, false);
        topkOnDevice += Math.round(top.get1().lt(new Scalar(deviceKeys)).sum().item_double());
        topkTotal += rows * k;
    }

    /** The totals so far. */
    public Snapshot snapshot() {
        return new Snapshot(deviceMass, boundMass, tokenBoundMass, queryHeads, topkOnDevice, topkTotal, hostGatherNanos + hostAttendNanos, attendNanos);
    }

    /** Clears the totals (the switch stays). */
    public void reset() {
        deviceMass = 0;
        boundMass = 0;
        tokenBoundMass = 0;
        queryHeads = 0;
        topkOnDevice = 0;
        topkTotal = 0;
        hostGatherNanos = 0;
        hostAttendNanos = 0;
        attendNanos = 0;
    }
}

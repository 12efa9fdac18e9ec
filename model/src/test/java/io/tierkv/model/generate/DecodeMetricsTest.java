package io.tierkv.model.generate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.model.llama.Tensors;
import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

class DecodeMetricsTest {
    /** Weights (H, n, N) filled with {@code value}. */
    private static Tensor weights(int heads, int queries, int keys, float value) {
        float[] w = new float[heads * queries * keys];
        java.util.Arrays.fill(w, value);
        return Tensors.fromFloats(w, heads, queries, keys);
    }

    private static SplitAttention.Result result(Tensor device, Tensor host) {
        Tensor norm = device.sum(new long[] {-1}, true, new org.bytedeco.pytorch.ScalarTypeOptional())
                .add(host.sum(new long[] {-1}, true, new org.bytedeco.pytorch.ScalarTypeOptional()));
        return new SplitAttention.Result(null, List.of(device, host), norm);
    }

    @Test
    void deviceShare_isTheProbabilityMassOnTheDevicePart() {
        try (PointerScope scope = new PointerScope()) {
            DecodeMetrics m = new DecodeMetrics();
            m.enable(true);
            // 16 device keys of weight 3, 32 host keys of weight 1: 48 of 80 on the device.
            m.attended(16, 32, result(weights(4, 2, 16, 3f), weights(4, 2, 32, 1f)), 1000);
            DecodeMetrics.Snapshot s = m.snapshot();
            assertEquals(48.0 / 80, s.deviceAttentionShare(), 1e-6);
            assertEquals(1.0, s.deviceTopkShare(), 1e-9, "the 8 heaviest keys are all on the device");
            assertEquals(1000 * 32.0 / 48, s.hostNanos(), 1e-6, "the host keys' share of the merge");
        }
    }

    @Test
    void disabled_measuresNothing_andSnapshotsSubtract() {
        try (PointerScope scope = new PointerScope()) {
            DecodeMetrics m = new DecodeMetrics();
            m.attended(16, 16, result(weights(1, 1, 16, 1f), weights(1, 1, 16, 1f)), 10);
            assertTrue(Double.isNaN(m.snapshot().deviceAttentionShare()), "off by default");
            m.enable(true);
            m.attended(16, 16, result(weights(1, 1, 16, 1f), weights(1, 1, 16, 1f)), 10);
            DecodeMetrics.Snapshot first = m.snapshot();
            m.attended(16, 16, result(weights(1, 1, 16, 1f), weights(1, 1, 16, 3f)), 10);
            DecodeMetrics.Snapshot second = m.snapshot().minus(first);
            assertEquals(0.5, first.deviceAttentionShare(), 1e-6);
            assertEquals(0.25, second.deviceAttentionShare(), 1e-6);
            assertEquals(0.0, second.deviceTopkShare(), 1e-9, "the heavier host keys take the top 8");
        }
    }

    @Test
    void bound_isTheMassOfTheBestBlocksOfTheDevicesCount() {
        try (PointerScope scope = new PointerScope()) {
            DecodeMetrics m = new DecodeMetrics();
            m.enable(true);
            // blocks of 4 keys: 1 device block of weight 1, 2 host blocks of weight 1 and 3 (per key).
            float[] host = new float[2 * 8];
            for (int h = 0; h < 2; h++) {
                for (int k = 0; k < 8; k++) {
                    host[h * 8 + k] = k < 4 ? 1f : 3f;
                }
            }
            m.attended(4, 8, 4, result(weights(2, 1, 4, 1f), Tensors.fromFloats(host, 2, 1, 8)), 10);
            DecodeMetrics.Snapshot s = m.snapshot();
            assertEquals(4.0 / 20, s.deviceAttentionShare(), 1e-6, "the device block holds 4 of 20");
            assertEquals(12.0 / 20, s.deviceAttentionBound(), 1e-6, "one device block at best holds the heaviest block's 12 of 20");
            m.attended(4, 8, 0, result(weights(2, 1, 4, 1f), Tensors.fromFloats(host, 2, 1, 8)), 10);
            assertEquals(12.0 / 20 / 2, m.snapshot().deviceAttentionBound(), 1e-6, "without a block size the bound is not measured");
        }
    }

    @Test
    void tokenBound_isTheMassOfTheBestKeysOfTheDevicesCount_whateverTheirBlocks() {
        try (PointerScope scope = new PointerScope()) {
            DecodeMetrics m = new DecodeMetrics();
            m.enable(true);
            // blocks of 4 keys: 1 device block of weight 1, 2 host blocks [3 1 1 1] and [1 1 1 3]: 6 each, 16 in all.
            float[] host = {3, 1, 1, 1, 1, 1, 1, 3};
            m.attended(4, 8, 4, result(weights(1, 1, 4, 1f), Tensors.fromFloats(host, 1, 1, 8)), 10);
            DecodeMetrics.Snapshot s = m.snapshot();
            assertEquals(6.0 / 16, s.deviceAttentionBound(), 1e-6, "the best block holds 6 of 16");
            assertEquals(8.0 / 16, s.deviceAttentionTokenBound(), 1e-6, "the best 4 keys, two 3s and two 1s, hold 8");
            assertEquals(s.deviceAttentionTokenBound(), s.minus(DecodeMetrics.Snapshot.EMPTY).deviceAttentionTokenBound(), 1e-12);
        }
    }
}

package io.tierkv.model.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.core.DType;
import io.tierkv.model.BundledModel;
import io.tierkv.model.generate.GenerationResult;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * Decode steps replayed from a captured graph ({@code -Dtierkv.cudaGraphs}) on the host mirror, whose {@code capture}
 * records the kernels called and runs nothing, and whose launch runs them again with the arguments they were called with:
 * so every value that changes from step to step must reach the kernels through device memory, as on a CUDA graph. Held to
 * the step run launch by launch, bit for bit, and to the CPU decoder's tokens.
 */
class CudaGraphsHostTest {
    private static CudaDecoder decoder(int maxTokens, int blockSize, boolean graphs) {
        // the prompt token by token, as steps: the counts below are per step
        return CudaDecoder.load(BundledModel.directory(), maxTokens, blockSize, null, HostStepDevice::new, KvStores.PAGED, true, graphs, 1);
    }

    @Test
    void replayedSteps_equalTheStepsRunLaunchByLaunch_bitForBit_andTheCpuDecodersTokens() {
        DecoderFixture.Case want = DecoderFixture.load().cases().get(1);
        int maxTokens = want.prompt().length + DecoderFixture.NEW_TOKENS;
        int blockSize = 16;
        float[] eager;
        try (CudaDecoder d = decoder(maxTokens, blockSize, false)) {
            assertFalse(d.cudaGraphs());
            d.generate(want.prompt(), DecoderFixture.NEW_TOKENS, -1, null);
            eager = d.logits();
        }
        try (CudaDecoder d = decoder(maxTokens, blockSize, true)) {
            assertTrue(d.cudaGraphs());
            GenerationResult g = d.generate(want.prompt(), DecoderFixture.NEW_TOKENS, -1, null);
            assertArrayEquals(want.tokens(), g.tokens(), "greedy tokens through the graph");
            assertArrayEquals(eager, d.logits(), "the last step's logits, replayed, equal the launch-by-launch step's");
            // the key is the attention's plan, for the next power of two of blocks: at a new key the first step runs launch by
            // launch, the second is captured, and it and every step after it while the key holds are launches of the graph
            int steps = maxTokens - 1;
            int keys = 0;
            int keysWithTwoSteps = 0;
            int run = 0;
            int last = -1;
            for (int p = 0; p < steps; p++) {
                int blocks = p / blockSize + 1;
                int planned = blocks == 1 ? 1 : Integer.highestOneBit(blocks - 1) << 1;
                if (planned != last) {
                    keys++;
                    run = 0;
                    last = planned;
                }
                if (++run == 2) {
                    keysWithTwoSteps++;
                }
            }
            assertTrue(keys < (steps + blockSize - 1) / blockSize, keys + " keys: fewer than the blocks");
            assertEquals(keysWithTwoSteps, d.graphCaptures(), "one capture per key that lasts two steps");
            assertEquals(steps - keys, d.graphLaunches(), "every step but the first at each key is a graph launch");
            // the next sequence finds every key's graph: no capture, every step a launch, the same tokens
            GenerationResult again = d.generate(want.prompt(), DecoderFixture.NEW_TOKENS, -1, null);
            assertArrayEquals(want.tokens(), again.tokens(), "the second sequence's tokens");
            assertEquals(keysWithTwoSteps, d.graphCaptures(), "graphs kept across sequences");
            assertEquals(2L * steps - keys, d.graphLaunches(), "every step of the second sequence is a graph launch");
        }
    }

    @Test
    void evictingMidBlock_recapturesWithTheMask_andSamplingFeedsTheGraphItsTokens() {
        DecoderFixture.Case want = DecoderFixture.load().cases().get(0);
        int[] prompt = Arrays.copyOf(want.prompt(), 37);
        float[][] logits = new float[2][];
        int[][] tokens = new int[2][];
        for (int run = 0; run < 2; run++) {
            try (CudaDecoder d = decoder(64, 16, run == 1)) {
                d.prefill(prompt);
                for (int p = 3; p < 12; p++) { // mid-block: the mask joins the attention, and the capture key changes
                    d.evict(p);
                }
                int[] out = new int[10];
                int next = 5;
                for (int i = 0; i < out.length; i++) {
                    d.step(next);
                    out[i] = next;
                    next = (next * 31 + 7) % d.config().vocabSize(); // not the greedy token: the graph must read what it is given
                }
                tokens[run] = out;
                logits[run] = d.logits();
                if (run == 1) {
                    assertTrue(d.graphLaunches() > 0, "graph launches after the eviction");
                }
            }
        }
        assertArrayEquals(logits[0], logits[1], "with evictions and given tokens, replayed equals launch by launch");
    }

    @Test
    void aCapture_recordsKernelsWithoutRunningThem_refusesMemoryCalls_andReadsMemoryAtEachLaunch() {
        try (HostStepDevice device = new HostStepDevice()) {
            long x = device.alloc(8);
            long y = device.alloc(8);
            long w = device.alloc(16);
            device.upload(w, floats(1, 2, 3, 4));
            device.upload(x, floats(1, 1));
            device.upload(y, floats(0, 0));
            DeviceWeights.Matrix m = new DeviceWeights.Matrix(w, DType.F32, 2, 2);
            StepDevice.StepGraph graph = device.capture(() -> device.gemv(y, m, x, 0));
            assertArrayEquals(new float[] {0, 0}, device.floats(y, 2), "capturing ran nothing");
            graph.launch();
            assertArrayEquals(new float[] {3, 7}, device.floats(y, 2));
            device.upload(x, floats(2, 0));
            graph.launch();
            assertArrayEquals(new float[] {2, 6}, device.floats(y, 2), "the launch reads x as it is now");
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> device.capture(() -> device.setInt(x, 1)));
            assertTrue(e.getMessage().contains("setInt"), e.getMessage());
            assertThrows(IllegalStateException.class, () -> device.capture(() -> device.upload(x, floats(0, 0))));
            graph.launch(); // the device is usable after a refused capture
            assertArrayEquals(new float[] {2, 6}, device.floats(y, 2));
            graph.close();
            assertThrows(IllegalStateException.class, graph::launch);
        }
    }

    private static ByteBuffer floats(float... v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(v);
        return b;
    }
}

package io.tierkv.cuda.popularity;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.tierkv.core.Transitions;
import io.tierkv.core.memory.MemoryLedger;
import io.tierkv.core.policy.HierarchicalConfig;
import io.tierkv.core.policy.LevelStateMachine;
import io.tierkv.core.popularity.ReferencePopularityCounter;
import io.tierkv.cuda.attention.ScoreShape;
import io.tierkv.cuda.driver.CudaContext;
import io.tierkv.cuda.driver.CudaCopies;
import io.tierkv.cuda.driver.CudaStream;
import io.tierkv.cuda.driver.DeviceBuffer;
import io.tierkv.cuda.driver.Gpu;
import io.tierkv.cuda.driver.PinnedBuffer;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Scores -> counts -> transitions with everything but the state machine on the device: the device
 * counts equal the oracle's counts on the device's own probabilities, step by step, and the window's
 * transitions follow.
 */
@Tag("gpu")
class DevicePopularityGpuTest {

    @BeforeEach
    void needsGpu() {
        Gpu.assumeCuda();
    }

    @Test
    void window_onTheDevice_countsLikeTheOracleAndClosesIntoTransitions() {
        int heads = 8;
        int kvHeads = 2;
        int headDim = 64;
        int blockSize = 16;
        int tokens = 300;
        int k = 20;
        int steps = 12;
        long blockBytes = 2L * blockSize * kvHeads * headDim * Float.BYTES;
        ScoreShape shape = new ScoreShape(heads, kvHeads, headDim, blockSize, blockBytes, 0.125f);
        int used = shape.blocksFor(tokens);
        int[] blocks = new int[used];
        for (int b = 0; b < used; b++) {
            blocks[b] = used - 1 - b; // scattered: reversed
        }
        SplittableRandom rnd = new SplittableRandom(5);
        MemoryLedger.Snapshot before = MemoryLedger.snapshot();
        try (CudaContext ctx = CudaContext.primary(0);
             CudaStream s = new CudaStream(ctx);
             PinnedBuffer host = new PinnedBuffer(ctx, used * blockBytes);
             DeviceBuffer pool = new DeviceBuffer(ctx, used * blockBytes);
             DevicePopularity pipeline = new DevicePopularity(ctx, shape, tokens, k)) {
            for (int i = 0; i < used * blockBytes / 4; i++) {
                host.buffer().putFloat(i * 4, (float) rnd.nextGaussian());
            }
            CudaCopies.hostToDeviceAsync(pool, 0, host, 0, used * blockBytes, s);
            s.synchronize();
            int[] expected = new int[tokens];
            int[] selected = new int[k];
            float[] probs = new float[heads * tokens];
            ReferencePopularityCounter oracle = new ReferencePopularityCounter();
            for (int step = 0; step < steps; step++) {
                float[] q = new float[heads * headDim];
                for (int i = 0; i < q.length; i++) {
                    q[i] = (float) (3 * rnd.nextGaussian());
                }
                pipeline.step(q, pool, blocks, tokens);
                pipeline.downloadProbabilities(probs, tokens);
                oracle.count(probs, 0, heads, tokens, tokens, k, selected, expected);
            }
            int[] actual = new int[tokens];
            pipeline.downloadCounts(actual, tokens);
            assertArrayEquals(expected, actual);

            HierarchicalConfig config = HierarchicalConfig.paper();
            LevelStateMachine machine = new LevelStateMachine(config);
            byte[] a = new byte[tokens];
            byte[] b = new byte[tokens];
            java.util.Arrays.fill(a, io.tierkv.core.Level.NORMAL_CODE);
            java.util.Arrays.fill(b, io.tierkv.core.Level.NORMAL_CODE);
            int[] birth = new int[tokens];
            Transitions ta = new Transitions();
            Transitions tb = new Transitions();
            int now = config.window();
            assertEquals(machine.closeWindow(0, a, expected, birth, tokens, now, ta), machine.closeWindow(0, b, actual, birth, tokens, now, tb));
            assertArrayEquals(a, b);
            assertEquals(ta.size(), tb.size());
        }
        before.assertNoLeaks();
    }

    @Test
    void shuffledList_countsByToken_andNeverCountsAnEvictedToken() {
        int heads = 4;
        int kvHeads = 2;
        int headDim = 32;
        int blockSize = 16;
        int maxTokens = 400;
        int k = 24;
        long blockBytes = 2L * blockSize * kvHeads * headDim * Float.BYTES;
        ScoreShape shape = new ScoreShape(heads, kvHeads, headDim, blockSize, blockBytes, 0.2f);
        int poolBlocks = maxTokens / blockSize + 2;
        SplittableRandom rnd = new SplittableRandom(8);
        MemoryLedger.Snapshot before = MemoryLedger.snapshot();
        try (CudaContext ctx = CudaContext.primary(0);
             CudaStream s = new CudaStream(ctx);
             PinnedBuffer host = new PinnedBuffer(ctx, poolBlocks * blockBytes);
             DeviceBuffer pool = new DeviceBuffer(ctx, poolBlocks * blockBytes);
             DevicePopularity pipeline = new DevicePopularity(ctx, shape, maxTokens, k)) {
            for (int i = 0; i < poolBlocks * blockBytes / 4; i++) {
                host.buffer().putFloat(i * 4, (float) rnd.nextGaussian());
            }
            CudaCopies.hostToDeviceAsync(pool, 0, host, 0, poolBlocks * blockBytes, s);
            s.synchronize();
            int[] expected = new int[maxTokens];
            ReferencePopularityCounter oracle = new ReferencePopularityCounter();
            for (int step = 0; step < 10; step++) {
                // A list that changes every step: a random subset of token blocks, in random order, each in a random pool block.
                int used = 5 + rnd.nextInt(maxTokens / blockSize - 5);
                int tokens = (used - 1) * blockSize + 1 + rnd.nextInt(blockSize);
                int[] tokenBlocks = shuffled(rnd, maxTokens / blockSize);
                int[] poolOrder = shuffled(rnd, poolBlocks);
                int[] blocks = new int[used];
                int[] first = new int[used];
                for (int i = 0; i < used; i++) {
                    blocks[i] = poolOrder[i];
                    first[i] = tokenBlocks[i] * blockSize;
                }
                byte[] evicted = new byte[tokens];
                for (int p = 0; p < tokens; p++) {
                    evicted[p] = (byte) (rnd.nextInt(3) == 0 ? 1 : 0);
                }
                float[] q = new float[heads * headDim];
                for (int i = 0; i < q.length; i++) {
                    q[i] = (float) (3 * rnd.nextGaussian());
                }
                pipeline.step(q, pool, blocks, first, evicted, tokens);
                float[] probs = new float[heads * tokens];
                pipeline.downloadProbabilities(probs, tokens);
                for (int h = 0; h < heads; h++) {
                    for (int p = 0; p < tokens; p++) {
                        if (evicted[p] != 0) {
                            assertEquals(0f, probs[h * tokens + p], "an evicted key has probability 0");
                        }
                    }
                }
                int[] selected = new int[k];
                int n = oracle.selectTopK(probs, 0, heads, tokens, tokens, k, selected);
                for (int i = 0; i < n; i++) {
                    if (evicted[selected[i]] == 0) {
                        expected[DevicePopularity.tokenOf(selected[i], first, blockSize)]++;
                    }
                }
            }
            int[] actual = new int[maxTokens];
            pipeline.downloadCounts(actual, maxTokens);
            assertArrayEquals(expected, actual);
        }
        before.assertNoLeaks();
    }

    private static int[] shuffled(SplittableRandom rnd, int n) {
        int[] a = new int[n];
        for (int i = 0; i < n; i++) {
            a[i] = i;
        }
        for (int i = n - 1; i > 0; i--) {
            int j = rnd.nextInt(i + 1);
            int t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
        return a;
    }
}

package io.tierkv.cuda.blocks;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.tierkv.core.memory.MemoryLedger;
import io.tierkv.cuda.driver.CudaContext;
import io.tierkv.cuda.driver.CudaCopies;
import io.tierkv.cuda.driver.CudaStream;
import io.tierkv.cuda.driver.DeviceBuffer;
import io.tierkv.cuda.driver.Gpu;
import io.tierkv.cuda.driver.PinnedBuffer;
import java.nio.ByteBuffer;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The gather/scatter kernels against the Java oracle, through real device memory. */
@Tag("gpu")
class CudaBlockGatherGpuTest {

    @BeforeEach
    void needsGpu() {
        Gpu.assumeCuda();
    }

    @Test
    void gatherAndScatter_onTheDevice_matchTheOracle() {
        MemoryLedger.Snapshot before = MemoryLedger.snapshot();
        SplittableRandom rnd = new SplittableRandom(42);
        try (CudaContext ctx = CudaContext.primary(0); CudaBlockGather gpu = new CudaBlockGather(ctx); CudaStream s = new CudaStream(ctx)) {
            for (long blockBytes : BlockGatherConformanceTest.BLOCK_BYTES) {
                if (blockBytes % 16 != 0) {
                    long bad = blockBytes;
                    try (DeviceBuffer p = new DeviceBuffer(ctx, 64 * bad); DeviceBuffer st = new DeviceBuffer(ctx, 64 * bad)) {
                        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                                () -> gpu.gather(p, new int[] {1}, 1, bad, st, 0), "blockBytes " + bad + " is refused");
                    }
                    continue;
                }
                int poolBlocks = 37;
                int count = 23;
                long offset = 16;
                int poolBytes = (int) (poolBlocks * blockBytes);
                int stagingBytes = (int) (offset + count * blockBytes);
                ByteBuffer pool = BlockGatherConformanceTest.random(rnd, poolBytes);
                int[] blocks = BlockGatherConformanceTest.distinct(rnd, poolBlocks, count);
                ByteBuffer expected = ByteBuffer.allocate(stagingBytes);
                new SimpleBlockGather().gather(pool, blocks, count, blockBytes, expected, offset);
                ByteBuffer expectedPool = BlockGatherConformanceTest.random(new SplittableRandom(9), poolBytes);
                ByteBuffer freshPool = expectedPool.duplicate();
                expectedPool = ByteBuffer.allocate(poolBytes).put(expectedPool.duplicate()).rewind();
                new SimpleBlockGather().scatter(expected, offset, blocks, count, blockBytes, expectedPool);

                try (PinnedBuffer host = new PinnedBuffer(ctx, poolBytes + stagingBytes);
                     DeviceBuffer dPool = new DeviceBuffer(ctx, poolBytes);
                     DeviceBuffer dStaging = new DeviceBuffer(ctx, stagingBytes)) {
                    host.buffer().put(0, pool, 0, poolBytes);
                    CudaCopies.hostToDeviceAsync(dPool, 0, host, 0, poolBytes, s);
                    dStaging.fill(0, stagingBytes, (byte) 0, s);
                    s.synchronize();
                    gpu.gather(dPool, blocks, count, blockBytes, dStaging, offset);
                    CudaCopies.deviceToHostAsync(host, poolBytes, dStaging, 0, stagingBytes, s);
                    s.synchronize();
                    assertEquals(expected.slice((int) offset, stagingBytes - (int) offset),
                            host.buffer(poolBytes + offset, stagingBytes - (int) offset), "gather, blockBytes " + blockBytes);

                    host.buffer().put(0, freshPool.rewind(), 0, poolBytes);
                    CudaCopies.hostToDeviceAsync(dPool, 0, host, 0, poolBytes, s);
                    s.synchronize();
                    gpu.scatter(dStaging, offset, blocks, count, blockBytes, dPool);
                    CudaCopies.deviceToHostAsync(host, 0, dPool, 0, poolBytes, s);
                    s.synchronize();
                    assertEquals(expectedPool.rewind(), host.buffer(0, poolBytes), "scatter, blockBytes " + blockBytes);
                }
            }
        }
        before.assertNoLeaks();
    }

    /**
     * Gathers queued back to back, none waited for before the next is issued: each must use its own block list, though
     * the host rewrites the one pinned index buffer for every call (on a GPU that lags behind the host, or under the
     * emulator's {@code TIERKV_EMU_STREAMS=deferred}, a missing wait lets a later list overwrite an earlier one before
     * its upload ran).
     */
    @Test
    void gathersQueuedBackToBack_eachUseTheirOwnBlockList() {
        MemoryLedger.Snapshot before = MemoryLedger.snapshot();
        SplittableRandom rnd = new SplittableRandom(7);
        long blockBytes = 64;
        int poolBlocks = 16;
        int count = 5;
        int calls = 6;
        int poolBytes = (int) (poolBlocks * blockBytes);
        int stagingBytes = (int) (count * blockBytes);
        ByteBuffer pool = BlockGatherConformanceTest.random(rnd, poolBytes);
        try (CudaContext ctx = CudaContext.primary(0); CudaBlockGather gpu = new CudaBlockGather(ctx); CudaStream s = new CudaStream(ctx);
             PinnedBuffer host = new PinnedBuffer(ctx, poolBytes + (long) calls * stagingBytes);
             DeviceBuffer dPool = new DeviceBuffer(ctx, poolBytes);
             DeviceBuffer dStaging = new DeviceBuffer(ctx, (long) calls * stagingBytes)) {
            host.buffer().put(0, pool, 0, poolBytes);
            CudaCopies.hostToDeviceAsync(dPool, 0, host, 0, poolBytes, s);
            s.synchronize();
            int[][] lists = new int[calls][];
            for (int c = 0; c < calls; c++) {
                lists[c] = BlockGatherConformanceTest.distinct(rnd, poolBlocks, count);
                gpu.gatherAsync(dPool, lists[c], count, blockBytes, dStaging, (long) c * stagingBytes, s);
            }
            CudaCopies.deviceToHostAsync(host, poolBytes, dStaging, 0, (long) calls * stagingBytes, s);
            s.synchronize();
            for (int c = 0; c < calls; c++) {
                ByteBuffer expected = ByteBuffer.allocate(stagingBytes);
                new SimpleBlockGather().gather(pool, lists[c], count, blockBytes, expected, 0);
                assertEquals(expected.rewind(), host.buffer(poolBytes + (long) c * stagingBytes, stagingBytes), "gather " + c + " of " + calls);
            }
        }
        before.assertNoLeaks();
    }

    @Test
    void aGatherInAStreamCapture_isRefused_andTheStreamStillWorks() {
        MemoryLedger.Snapshot before = MemoryLedger.snapshot();
        try (CudaContext ctx = CudaContext.primary(0); CudaBlockGather gpu = new CudaBlockGather(ctx); CudaStream s = new CudaStream(ctx);
             DeviceBuffer pool = new DeviceBuffer(ctx, 4 * 64); DeviceBuffer staging = new DeviceBuffer(ctx, 4 * 64)) {
            IllegalStateException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
                    () -> io.tierkv.cuda.driver.CudaGraph.capture(s, () -> gpu.gatherAsync(pool, new int[] {2}, 1, 64, staging, 0, s)));
            org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains("CUDA graph"), e.getMessage());
            gpu.gatherAsync(pool, new int[] {2}, 1, 64, staging, 0, s); // outside a capture: runs
            s.synchronize();
        }
        before.assertNoLeaks();
    }
}

package io.tierkv.cuda.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.cuda.driver.HeapLaunchArgs;
import io.tierkv.cuda.driver.LaunchArgs;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

/** {@link CudaHeadSlices}' packed arguments and host checks without a GPU. */
class HeadSlicesLaunchTest {
    @Test
    void arguments_matchTheKernelsSignature_logMinAsADouble() {
        LaunchArgs a = CudaHeadSlices.pack(HeapLaunchArgs.create(CudaHeadSlices.ARGS_BYTES), 0x1000, 37, 32, 8, 12, 0x2000, Math.log(0.05), 0x3000, 0x4000,
                0x5000, true);
        ByteBuffer b = HeapLaunchArgs.bytes(a);
        // (const float* scores, int n, int heads, int kvHeads, int cap, const int* capFrom, double logMin, float* value,
        //  u8* headMask, int* taken, int staged)
        assertEquals(0x1000, b.getLong(0));
        assertEquals(37, b.getInt(8));
        assertEquals(32, b.getInt(12));
        assertEquals(8, b.getInt(16));
        assertEquals(12, b.getInt(20));
        assertEquals(0x2000, b.getLong(24));
        assertEquals(Math.log(0.05), b.getDouble(32));
        assertEquals(0x3000, b.getLong(40));
        assertEquals(0x4000, b.getLong(48));
        assertEquals(0x5000, b.getLong(56));
        assertEquals(1, b.getInt(64));
        assertEquals(68, a.size());
    }

    @Test
    void badShapes_areRefusedWithTheirNumbers() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> CudaHeadSlices.check(0, 32, 8, 4)).getMessage().contains("n must"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> CudaHeadSlices.check(4, 30, 8, 4)).getMessage()
                .contains("heads 30 must be a multiple of kvHeads 8"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> CudaHeadSlices.check(4, 2048, 8, 4)).getMessage()
                .contains("at most 1024"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> CudaHeadSlices.check(4, 32, 8, -1)).getMessage()
                .contains("cap must be >= 0"));
    }

    @Test
    void threads_aThreadPerPairWhenRanked_elseAWarpPer256Pairs() {
        assertEquals(32, CudaHeadSlices.threads(1, 1, 1), "ranked: one pair, one warp");
        assertEquals(128, CudaHeadSlices.threads(28, 12, 4), "ranked: a decode step's 112 pairs, a thread each");
        assertEquals(1024, CudaHeadSlices.threads(64, 16, 16), "ranked: 1024 pairs");
        assertEquals(160, CudaHeadSlices.threads(300, 12, 4), "1200 pairs: picked one by one, a warp per 256");
        assertEquals(608, CudaHeadSlices.threads(600, 32, 8), "not staged (75 KiB of scores): a warp per 256 pairs");
        assertEquals(1024, CudaHeadSlices.threads(1024, 32, 8));
        assertEquals(1024, CudaHeadSlices.threads(Integer.MAX_VALUE / 8, 32, 8));
    }

    @Test
    void stagedBytes_holdScoresValuesAndMask_upTo40KiB() {
        assertEquals(28 * 12 * 4 + 112 * 6, CudaHeadSlices.stagedBytes(28, 12, 4), "a 100M decode step's layer: 2016 bytes");
        assertEquals(16, CudaHeadSlices.stagedBytes(1, 2, 1), "14 bytes, rounded up to 16");
        assertEquals(0, CudaHeadSlices.stagedBytes(2000, 32, 8), "256 KB of scores: left in global memory");
        assertTrue(CudaHeadSlices.stagedBytes(200, 32, 8) > 0 && CudaHeadSlices.stagedBytes(250, 32, 8) == 0);
    }
}

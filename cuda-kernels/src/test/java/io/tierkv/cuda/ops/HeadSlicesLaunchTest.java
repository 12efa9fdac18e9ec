package io.tierkv.cuda.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.core.DType;
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

    @Test
    void exactArguments_matchTheKernelsSignature() {
        PagedKvShape kv = PagedKvShape.dense(DType.BF16, 12, 4, 64, 16);
        LaunchArgs a = CudaHeadSlices.packExact(HeapLaunchArgs.create(CudaHeadSlices.EXACT_ARGS_BYTES), 0x1000, 28, kv, 12, 8, Math.log(0.05),
                0x2000, 0x3000, 0x4000, 0x5000, 32, 0x6000, 0x7000, 0x8000, 40, 0.125f);
        ByteBuffer b = HeapLaunchArgs.bytes(a);
        // (const float* scores, int n, int heads, int kvHeads, int keys, int slices, double logMin, u8* headMask, int* taken,
        //  const float* q, const u8* slab, long long slotBytes, long long keyOffset, const int* slots, const int* validRows,
        //  const u8* mask, int capacity, int blockSize, int headDim, float scale)
        assertEquals(0x1000, b.getLong(0));
        assertEquals(28, b.getInt(8));
        assertEquals(12, b.getInt(12));
        assertEquals(4, b.getInt(16));
        assertEquals(12, b.getInt(20));
        assertEquals(8, b.getInt(24));
        assertEquals(Math.log(0.05), b.getDouble(32), "a double, 8-aligned after five ints");
        assertEquals(0x2000, b.getLong(40));
        assertEquals(0x3000, b.getLong(48));
        assertEquals(0x4000, b.getLong(56));
        assertEquals(0x5000, b.getLong(64));
        assertEquals(kv.slotBytes(), b.getLong(72));
        assertEquals(32, b.getLong(80));
        assertEquals(0x6000, b.getLong(88));
        assertEquals(0x7000, b.getLong(96));
        assertEquals(0x8000, b.getLong(104));
        assertEquals(40, b.getInt(112));
        assertEquals(16, b.getInt(116));
        assertEquals(64, b.getInt(120));
        assertEquals(0.125f, b.getFloat(124));
        assertEquals(CudaHeadSlices.EXACT_ARGS_BYTES, a.size());
    }

    @Test
    void exactBytes_holdBothScoreArrays_upTo40KiB_andTheThreads_aWarpPerCandidateAtLeast() {
        assertEquals(8 * 28 * 12 + 10 * 112, CudaHeadSlices.exactBytes(28, 12, 4), "a 100M decode step's layer: 3808 bytes");
        assertEquals(0, CudaHeadSlices.exactBytes(0, 12, 4));
        assertTrue(CudaHeadSlices.exactBytes(130, 8, 8) > 0, "1040 pairs in one CTA: picked one by one");
        assertEquals(0, CudaHeadSlices.exactBytes(300, 32, 8), "the stages are then launched apart");
        assertEquals(384, CudaHeadSlices.exactThreads(28, 12, 4, 12), "ranked: a thread per pair, more than a warp per candidate");
        assertEquals(384, CudaHeadSlices.exactThreads(3, 12, 4, 12), "12 pairs, all candidates: a warp each");
        assertEquals(1024, CudaHeadSlices.exactThreads(130, 8, 8, 40), "40 candidates: the most threads");
    }
}

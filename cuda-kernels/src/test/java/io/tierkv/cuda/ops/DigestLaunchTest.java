package io.tierkv.cuda.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.core.DType;
import io.tierkv.cuda.driver.HeapLaunchArgs;
import io.tierkv.cuda.driver.LaunchArgs;
import java.nio.ByteBuffer;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@link CudaBlockDigests}' host side without a GPU: the kernels' names, grids and packed arguments (digest.cu's signatures). */
class DigestLaunchTest {

    @Test
    void updateArguments_matchTheKernelsSignature() {
        DigestShape s = new DigestShape(8, 128, 16, 2);
        LaunchArgs a = CudaBlockDigests.packUpdate(HeapLaunchArgs.create(CudaBlockDigests.ARGS_BYTES), 0x1000, 65536, 16, 0x2000, 0x3000, 0x4000, 77, 99, 5, s);
        ByteBuffer b = HeapLaunchArgs.bytes(a);
        // (const u8* slab, long long slotBytes, long long keyOffset, const int* slots, const int* digestIndexes, u16* digests,
        //  int capacity, int digestCapacity, int nBlocks, int blockSize, int kvHeads, int headDim, int parts)
        assertEquals(0x1000, b.getLong(0));
        assertEquals(65536, b.getLong(8));
        assertEquals(16, b.getLong(16));
        assertEquals(0x2000, b.getLong(24));
        assertEquals(0x3000, b.getLong(32));
        assertEquals(0x4000, b.getLong(40));
        assertEquals(77, b.getInt(48));
        assertEquals(99, b.getInt(52));
        assertEquals(5, b.getInt(56));
        assertEquals(16, b.getInt(60));
        assertEquals(8, b.getInt(64));
        assertEquals(128, b.getInt(68));
        assertEquals(2, b.getInt(72));
        assertEquals(76, a.size());
    }

    @Test
    void boundArguments_matchTheKernelsSignature() {
        DigestShape s = new DigestShape(8, 128, 16, 1);
        LaunchArgs a = CudaBlockDigests.packBound(HeapLaunchArgs.create(CudaBlockDigests.ARGS_BYTES), 0x1000, 0x2000, 0x3000, 0x4000, 4096, 8191, 32, s, 0.125f);
        ByteBuffer b = HeapLaunchArgs.bytes(a);
        // (const float* q, const u16* digests, const int* digestIndexes, float* out, int digestCapacity, int nBlocks, int heads,
        //  int kvHeads, int headDim, int parts, float scale)
        assertEquals(0x1000, b.getLong(0));
        assertEquals(0x2000, b.getLong(8));
        assertEquals(0x3000, b.getLong(16));
        assertEquals(0x4000, b.getLong(24));
        assertEquals(4096, b.getInt(32));
        assertEquals(8191, b.getInt(36));
        assertEquals(32, b.getInt(40));
        assertEquals(8, b.getInt(44));
        assertEquals(128, b.getInt(48));
        assertEquals(1, b.getInt(52));
        assertEquals(0.125f, b.getFloat(56));
        assertEquals(60, a.size());
    }

    @Test
    void scoreGrid_aWarpPerBlockAndHead() {
        assertEquals(1, CudaBlockDigests.scoreGrid(1, 1));
        assertEquals(1, CudaBlockDigests.scoreGrid(2, 4), "8 warps: one CTA");
        assertEquals(2, CudaBlockDigests.scoreGrid(3, 3));
        assertEquals(42, CudaBlockDigests.scoreGrid(28, 12), "a decode step of the 100M model: 336 warps");
        assertThrows(IllegalArgumentException.class, () -> CudaBlockDigests.scoreGrid(Integer.MAX_VALUE, 32));
    }

    @Test
    void boundGrid_coversEveryBlockAndHead_once() {
        assertEquals(1, CudaBlockDigests.boundGrid(1, 1));
        assertEquals(1, CudaBlockDigests.boundGrid(8, 32), "256 threads: one CTA");
        assertEquals(2, CudaBlockDigests.boundGrid(9, 32));
        assertEquals(1024, CudaBlockDigests.boundGrid(8192, 32));
        assertEquals((7 * 6 + 255) / 256, CudaBlockDigests.boundGrid(7, 6));
        assertThrows(IllegalArgumentException.class, () -> CudaBlockDigests.boundGrid(Integer.MAX_VALUE, 512));
    }

    @Test
    void kernelNames_followTheDtype() {
        assertEquals("digest_update_f32", CudaBlockDigests.updateKernel(DType.F32));
        assertEquals("digest_update_f16", CudaBlockDigests.updateKernel(DType.F16));
        assertEquals("digest_update_bf16", CudaBlockDigests.updateKernel(DType.BF16));
        assertEquals("digest_sketch_update_f32", CudaBlockDigests.sketchUpdateKernel(DType.F32));
        assertEquals("digest_sketch_update_f16", CudaBlockDigests.sketchUpdateKernel(DType.F16));
        assertEquals("digest_sketch_update_bf16", CudaBlockDigests.sketchUpdateKernel(DType.BF16));
        assertEquals("digest_exact_f32", CudaBlockDigests.exactKernel(DType.F32));
        assertEquals("digest_exact_f16", CudaBlockDigests.exactKernel(DType.F16));
        assertEquals("digest_exact_bf16", CudaBlockDigests.exactKernel(DType.BF16));
    }

    @Test
    void kernelsLookedUp_followTheShapesKind() {
        assertEquals(List.of("digest_update_f32", "digest_update_f16", "digest_update_bf16", "digest_bound", "digest_exact_f32",
                "digest_exact_f16", "digest_exact_bf16"), CudaBlockDigests.kernels(new DigestShape(8, 128, 16, 2)));
        assertEquals(List.of("digest_sketch_update_f32", "digest_sketch_update_f16", "digest_sketch_update_bf16", "digest_sketch_score",
                "digest_exact_f32", "digest_exact_f16", "digest_exact_bf16"), CudaBlockDigests.kernels(new DigestShape(4, 32, 16, 1, 4, 2)));
    }

    @Test
    void sketchUpdateArguments_matchTheKernelsSignature() {
        DigestShape s = new DigestShape(4, 32, 16, 1, 4, 2);
        LaunchArgs a = CudaBlockDigests.packSketchUpdate(HeapLaunchArgs.create(CudaBlockDigests.ARGS_BYTES), 0x1000, 65536, 32, 0x2000, 0x3000, 0x4000, 77, 99, 5, s);
        ByteBuffer b = HeapLaunchArgs.bytes(a);
        // (const u8* slab, long long slotBytes, long long keyOffset, const int* slots, const int* digestIndexes, u8* digests,
        //  long long blockBytes, int capacity, int digestCapacity, int nBlocks, int blockSize, int kvHeads, int headDim, int bits,
        //  int sketch)
        assertEquals(0x1000, b.getLong(0));
        assertEquals(65536, b.getLong(8));
        assertEquals(32, b.getLong(16));
        assertEquals(0x2000, b.getLong(24));
        assertEquals(0x3000, b.getLong(32));
        assertEquals(0x4000, b.getLong(40));
        assertEquals(672, b.getLong(48));
        assertEquals(77, b.getInt(56));
        assertEquals(99, b.getInt(60));
        assertEquals(5, b.getInt(64));
        assertEquals(16, b.getInt(68));
        assertEquals(4, b.getInt(72));
        assertEquals(32, b.getInt(76));
        assertEquals(4, b.getInt(80));
        assertEquals(2, b.getInt(84));
        assertEquals(88, a.size());
    }

    @Test
    void scoreArguments_matchTheKernelsSignature() {
        DigestShape s = new DigestShape(4, 32, 16, 1, 8, 1);
        LaunchArgs a = CudaBlockDigests.packScore(HeapLaunchArgs.create(CudaBlockDigests.ARGS_BYTES), 0x1000, 0x2000, 0x3000, 0x4000, 4096, 8191, 32, s, 0.125f);
        ByteBuffer b = HeapLaunchArgs.bytes(a);
        // (const float* q, const u8* digests, const int* digestIndexes, float* out, long long blockBytes, int digestCapacity,
        //  int nBlocks, int heads, int kvHeads, int headDim, int blockSize, int bits, int sketch, float scale)
        assertEquals(0x1000, b.getLong(0));
        assertEquals(0x2000, b.getLong(8));
        assertEquals(0x3000, b.getLong(16));
        assertEquals(0x4000, b.getLong(24));
        assertEquals(s.bytesPerBlock(), b.getLong(32));
        assertEquals(4096, b.getInt(40));
        assertEquals(8191, b.getInt(44));
        assertEquals(32, b.getInt(48));
        assertEquals(4, b.getInt(52));
        assertEquals(32, b.getInt(56));
        assertEquals(16, b.getInt(60));
        assertEquals(8, b.getInt(64));
        assertEquals(1, b.getInt(68));
        assertEquals(0.125f, b.getFloat(72));
        assertEquals(76, a.size());
    }

    @Test
    void exactArguments_matchTheKernelsSignature() {
        PagedKvShape kv = PagedKvShape.dense(DType.BF16, 32, 8, 128, 16);
        LaunchArgs a = CudaBlockDigests.packExact(HeapLaunchArgs.create(CudaBlockDigests.ARGS_BYTES), 0x1000, 0x2000, kv.slotBytes(), 64, 0x3000, 0x4000, 0x5000,
                0x6000, 0x7000, 1234, 17, kv, 0.0625f);
        ByteBuffer b = HeapLaunchArgs.bytes(a);
        // (const float* q, const u8* slab, long long slotBytes, long long keyOffset, const int* slots, const int* validRows,
        //  const u8* mask, const u8* headMask, float* out, int capacity, int nBlocks, int blockSize, int heads, int kvHeads,
        //  int headDim, float scale)
        assertEquals(0x1000, b.getLong(0));
        assertEquals(0x2000, b.getLong(8));
        assertEquals(kv.slotBytes(), b.getLong(16));
        assertEquals(64, b.getLong(24));
        assertEquals(0x3000, b.getLong(32));
        assertEquals(0x4000, b.getLong(40));
        assertEquals(0x5000, b.getLong(48));
        assertEquals(0x6000, b.getLong(56));
        assertEquals(0x7000, b.getLong(64));
        assertEquals(1234, b.getInt(72));
        assertEquals(17, b.getInt(76));
        assertEquals(16, b.getInt(80));
        assertEquals(32, b.getInt(84));
        assertEquals(8, b.getInt(88));
        assertEquals(128, b.getInt(92));
        assertEquals(0.0625f, b.getFloat(96));
        assertEquals(100, a.size());
    }

    @Test
    void exactThreads_areOneWarpPerKvHead_atMostEight() {
        assertEquals(32, CudaBlockDigests.exactThreads(1));
        assertEquals(128, CudaBlockDigests.exactThreads(4));
        assertEquals(256, CudaBlockDigests.exactThreads(8));
        assertEquals(256, CudaBlockDigests.exactThreads(32));
        assertThrows(IllegalArgumentException.class, () -> CudaBlockDigests.exactThreads(0));
    }

    @Test
    void sketchSharedMemory_isTheKernelsLayout() {
        // 4 (2 K d + 2 K) floats' bytes + 2 K d code bytes
        assertEquals(4 * (2 * 128 + 8) + 2 * 128, CudaBlockDigests.sketchSharedBytes(new DigestShape(4, 32, 16, 1, 4, 2)));
        assertEquals(4 * (2 * 1024 + 16) + 2 * 1024, CudaBlockDigests.sketchSharedBytes(new DigestShape(8, 128, 16, 1, 8, 1)));
        assertTrue(CudaBlockDigests.sketchSharedBytes(new DigestShape(32, 128, 16, 1, 4, 2)) <= CudaBlockDigests.MAX_SHARED,
                "32 KV heads x 128 fits without opting in");
    }
}

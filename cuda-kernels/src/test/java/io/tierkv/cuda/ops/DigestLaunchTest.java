package io.tierkv.cuda.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.tierkv.core.DType;
import io.tierkv.cuda.driver.HeapLaunchArgs;
import io.tierkv.cuda.driver.LaunchArgs;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

/** {@link CudaBlockDigests}' host side without a GPU: the kernels' names, grids and packed arguments (digest.cu's signatures). */
class DigestLaunchTest {

    @Test
    void updateArguments_matchTheKernelsSignature() {
        DigestShape s = new DigestShape(8, 128, 16, 2);
        LaunchArgs a = CudaBlockDigests.packUpdate(HeapLaunchArgs.create(128), 0x1000, 65536, 16, 0x2000, 0x3000, 0x4000, 77, 99, 5, s);
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
        LaunchArgs a = CudaBlockDigests.packBound(HeapLaunchArgs.create(128), 0x1000, 0x2000, 0x3000, 0x4000, 4096, 8191, 32, s, 0.125f);
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
    }
}

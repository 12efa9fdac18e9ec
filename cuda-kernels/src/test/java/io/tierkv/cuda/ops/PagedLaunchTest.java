package io.tierkv.cuda.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.core.DType;
import io.tierkv.cuda.driver.HeapLaunchArgs;
import io.tierkv.cuda.driver.LaunchArgs;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

/** {@link CudaPagedAttention}'s and {@link CudaPagedProbs}' packed arguments without a GPU: the kernels' signatures in order. */
class PagedLaunchTest {
    static final PagedKvShape SHAPE = PagedKvShape.dense(DType.BF16, 32, 8, 128, 16);

    @Test
    void attentionArguments_matchTheKernelsSignature_headMaskAfterMask_liveBlocksThenTheRowsEdgeThenTheSecondPart() {
        LaunchArgs a = CudaPagedAttention.packAttend(HeapLaunchArgs.create(CudaPagedAttention.ARGS_BYTES), SHAPE, 0x1000, 0x2000, 0x3000, 0x4000, 0x5000, 0x6000,
                77, 99, 0.125f, 5, 0x7000, 0x8000, 0x9000, 0xa000, 0xb000, 0xc000, 0xd000, 0xe000, 321,
                new PagedPart(0xf000, 1 << 20, 0xf100, 0xf200, 0xf300, 0xf400, 0xf500, 12), 55);
        ByteBuffer b = HeapLaunchArgs.bytes(a);
        // (const float* q, const u8* slab, long long slotBytes, long long halfBytes, const int* slots, const int* validRows,
        //  const u8* mask, const u8* headMask, int capacity, int nBlocks, int blockSize, int heads, int kvHeads, int headDim,
        //  float scale, int blocksPerSplit, float* partAcc, float* partMax, float* partSum, unsigned* arrivals, float* out,
        //  float* lse, const int* liveBlocks, const int* blockIndex, int firstPosition,
        //  Part second {slab, slots, validRows, mask, headMask, blockIndex, capacity, nBlocks}: 8-byte aligned)
        assertEquals(0x1000, b.getLong(0));
        assertEquals(0x2000, b.getLong(8));
        assertEquals(SHAPE.slotBytes(), b.getLong(16));
        assertEquals(SHAPE.halfBytes(), b.getLong(24));
        assertEquals(0x3000, b.getLong(32));
        assertEquals(0x4000, b.getLong(40));
        assertEquals(0x5000, b.getLong(48));
        assertEquals(0x6000, b.getLong(56), "headMask");
        assertEquals(77, b.getInt(64));
        assertEquals(99, b.getInt(68));
        assertEquals(16, b.getInt(72));
        assertEquals(32, b.getInt(76));
        assertEquals(8, b.getInt(80));
        assertEquals(128, b.getInt(84));
        assertEquals(0.125f, b.getFloat(88));
        assertEquals(5, b.getInt(92));
        assertEquals(0x7000, b.getLong(96));
        assertEquals(0x8000, b.getLong(104));
        assertEquals(0x9000, b.getLong(112));
        assertEquals(0xa000, b.getLong(120));
        assertEquals(0xb000, b.getLong(128));
        assertEquals(0xc000, b.getLong(136));
        assertEquals(0xd000, b.getLong(144), "liveBlocks");
        assertEquals(0xe000, b.getLong(152), "blockIndex");
        assertEquals(321, b.getInt(160), "firstPosition");
        assertEquals(0xf000, b.getLong(168), "second.slab, after 4 bytes of padding");
        assertEquals(0xf100, b.getLong(176), "second.slots");
        assertEquals(0xf200, b.getLong(184), "second.validRows");
        assertEquals(0xf400, b.getLong(192), "second.mask");
        assertEquals(0xf500, b.getLong(200), "second.headMask");
        assertEquals(0xf300, b.getLong(208), "second.blockIndex");
        assertEquals(55, b.getInt(216), "second.capacity");
        assertEquals(12, b.getInt(220), "second.nBlocks");
        assertEquals(224, a.size());
    }

    @Test
    void aPartWithEntries_needsASlabOfSlotsAndAlignedTables_anEmptyOneNothing() {
        assertEquals(0, PagedPart.NONE.capacity(SHAPE));
        assertEquals(3, new PagedPart(0x1000, 3 * SHAPE.slotBytes() + 5, 0x2000, 0, 0, 0, 0, 4).capacity(SHAPE));
        IllegalArgumentException small = assertThrows(IllegalArgumentException.class,
                () -> new PagedPart(0x1000, SHAPE.slotBytes() - 1, 0x2000, 0, 0, 0, 0, 4).capacity(SHAPE));
        assertTrue(small.getMessage().contains("slabBytes"), small.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new PagedPart(0x1008, SHAPE.slotBytes(), 0x2000, 0, 0, 0, 0, 4).capacity(SHAPE),
                "a slab off 16 bytes");
        assertThrows(IllegalArgumentException.class, () -> new PagedPart(0x1000, SHAPE.slotBytes(), 0x2002, 0, 0, 0, 0, 4).capacity(SHAPE),
                "slots off 4 bytes");
        assertThrows(IllegalArgumentException.class, () -> new PagedPart(0, 0, 0, 0, 0, 0, 0, -1));
    }

    @Test
    void probsArguments_matchTheKernelsSignature_headMaskAfterMask_thenTheSecondPart() {
        LaunchArgs a = CudaPagedProbs.pack(HeapLaunchArgs.create(CudaPagedProbs.ARGS_BYTES), SHAPE, 0x1000,
                new PagedPart(0x2000, 1 << 20, 0x3000, 0x4000, 0x7000, 0x5000, 0x6000, 99), 0.125f, 0x8000, 0x9000, 4096,
                new PagedPart(0xa000, 1 << 21, 0xb000, 0xc000, 0xf000, 0xd000, 0xe000, 33));
        ByteBuffer b = HeapLaunchArgs.bytes(a);
        // (const float* q, const u8* slab, long long slabBytes, long long slotBytes, const int* slots, const int* validRows,
        //  const u8* mask, const u8* headMask, const int* blocks, int nBlocks, int blockSize, int heads, int kvHeads, int headDim,
        //  int dtype, float scale, const float* lse, float* probs, int stride, const u8* slab2, long long slabBytes2,
        //  const int* slots2, const int* validRows2, const u8* mask2, const u8* headMask2, const int* blocks2, int nBlocks2)
        assertEquals(0x1000, b.getLong(0));
        assertEquals(0x2000, b.getLong(8));
        assertEquals(1 << 20, b.getLong(16));
        assertEquals(SHAPE.slotBytes(), b.getLong(24));
        assertEquals(0x3000, b.getLong(32));
        assertEquals(0x4000, b.getLong(40));
        assertEquals(0x5000, b.getLong(48));
        assertEquals(0x6000, b.getLong(56), "headMask");
        assertEquals(0x7000, b.getLong(64));
        assertEquals(99, b.getInt(72));
        assertEquals(16, b.getInt(76));
        assertEquals(32, b.getInt(80));
        assertEquals(8, b.getInt(84));
        assertEquals(128, b.getInt(88));
        assertEquals(DTypeCodes.code(DType.BF16), b.getInt(92));
        assertEquals(0.125f, b.getFloat(96));
        assertEquals(0x8000, b.getLong(104), "lse, 8-byte aligned after the float");
        assertEquals(0x9000, b.getLong(112));
        assertEquals(4096, b.getInt(120));
        assertEquals(0xa000, b.getLong(128), "slab2, 8-byte aligned after stride");
        assertEquals(1 << 21, b.getLong(136));
        assertEquals(0xb000, b.getLong(144));
        assertEquals(0xc000, b.getLong(152));
        assertEquals(0xd000, b.getLong(160), "mask2");
        assertEquals(0xe000, b.getLong(168), "headMask2");
        assertEquals(0xf000, b.getLong(176), "blocks2");
        assertEquals(33, b.getInt(184));
        assertEquals(188, a.size());
    }
}

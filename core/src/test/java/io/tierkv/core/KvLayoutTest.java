package io.tierkv.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** Layout arithmetic, dtype names, levels and transitions: the small value types of core. */
class KvLayoutTest {

    @Test
    void sizes_ofALlamaLikeLayout() {
        // 32 layers, 8 KV heads x 128 dims, f16, 16-token blocks
        KvLayout l = new KvLayout(32, 8, 128, DType.F16, 16);
        assertEquals(1024, l.tokenWidth());
        assertEquals(2 * 1024 * 2, l.bytesPerTokenPerLayer()); // K and V, 2 bytes each
        assertEquals(16 * 4096L, l.blockBytes());
        assertEquals(16 * 2048L, l.blockHalfBytes()); // V starts here
        assertEquals(0, l.blocksFor(0));
        assertEquals(1, l.blocksFor(1));
        assertEquals(1, l.blocksFor(16));
        assertEquals(2, l.blocksFor(17));
        assertEquals(16, KvLayout.DEFAULT_BLOCK_SIZE);
    }

    @Test
    void badLayout_namesTheField() {
        assertEquals("layers must be > 0, was 0",
                assertThrows(IllegalArgumentException.class, () -> new KvLayout(0, 1, 1, DType.F32, 1)).getMessage());
        assertEquals("kvHeads must be > 0, was -2",
                assertThrows(IllegalArgumentException.class, () -> new KvLayout(1, -2, 1, DType.F32, 1)).getMessage());
        assertEquals("headDim must be > 0, was 0",
                assertThrows(IllegalArgumentException.class, () -> new KvLayout(1, 1, 0, DType.F32, 1)).getMessage());
        assertEquals("blockSize must be > 0, was 0",
                assertThrows(IllegalArgumentException.class, () -> new KvLayout(1, 1, 1, DType.F32, 0)).getMessage());
        assertEquals("dtype must not be null",
                assertThrows(IllegalArgumentException.class, () -> new KvLayout(1, 1, 1, null, 1)).getMessage());
        assertEquals("tokens must be >= 0, was -1",
                assertThrows(IllegalArgumentException.class, () -> new KvLayout(1, 1, 1, DType.F32, 4).blocksFor(-1)).getMessage());
    }

    @Test
    void dtype_parsesCommonNames() {
        assertEquals(DType.F32, DType.parse("float32"));
        assertEquals(DType.F16, DType.parse("FP16"));
        assertEquals(DType.BF16, DType.parse("bfloat16"));
        assertEquals(2, DType.BF16.bytes());
        assertEquals("BF16", DType.BF16.safetensorsName());
        assertEquals("unknown dtype 'int8'; expected one of f32, f16, bf16",
                assertThrows(IllegalArgumentException.class, () -> DType.parse("int8")).getMessage());
    }

    @Test
    void levels_rankMostPopularFirst_andMapToTiers() {
        assertEquals(Level.CACHE_CODE, Level.CACHE.code());
        assertEquals(Level.NORMAL_CODE, Level.NORMAL.code());
        assertEquals(Level.LOW_CODE, Level.LOW.code());
        assertEquals(Level.EVICT_CODE, Level.EVICT.code());
        assertEquals(Tier.DEVICE, Level.CACHE.tier());
        assertEquals(Tier.DEVICE, Level.NORMAL.tier());
        assertEquals(Tier.HOST, Level.LOW.tier());
        assertEquals(Tier.NONE, Level.EVICT.tier());
        for (Level l : Level.values()) {
            assertEquals(l, Level.of(l.code()));
            assertEquals(l != Level.EVICT, Level.isLive(l.code()));
        }
    }

    @Test
    void transitions_growClearAndCheckIndices() {
        Transitions t = new Transitions();
        for (int i = 0; i < 200; i++) { // past the initial 64
            t.add(i % 3, i, Level.NORMAL_CODE, i % 2 == 0 ? Level.LOW_CODE : Level.EVICT_CODE);
        }
        assertEquals(200, t.size());
        assertEquals(199, t.index(199));
        assertEquals(1, t.layer(199));
        assertEquals(Level.NORMAL_CODE, t.from(150));
        assertEquals(Level.LOW_CODE, t.to(150));
        assertEquals(100, t.countTo(Level.EVICT));
        assertEquals("transition 200 of 200", assertThrows(IndexOutOfBoundsException.class, () -> t.index(200)).getMessage());
        assertThrows(IndexOutOfBoundsException.class, () -> t.to(-1));
        t.clear();
        assertEquals(0, t.size());
        assertEquals("[]", t.toString());
        t.add(2, 7, Level.CACHE_CODE, Level.NORMAL_CODE);
        assertEquals("[2:7 CACHE->NORMAL]", t.toString());
    }
}

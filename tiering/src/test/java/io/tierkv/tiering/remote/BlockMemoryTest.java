package io.tierkv.tiering.remote;

import org.agrona.BufferUtil;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class BlockMemoryTest {
    @Test
    void ofRows_addressesBlockStartsThroughPerTokenAddresses() {
        ByteBuffer b = ByteBuffer.allocateDirect(4096);
        long base = BufferUtil.address(b);
        // A sequence-like layout: layer l, position p -> base + l * 1000 + p * 10 (+ 5 for V).
        BlockMemory m = BlockMemory.ofRows(4, (l, p) -> base + l * 1000L + p * 10L, (l, p) -> base + l * 1000L + p * 10L + 5);
        assertEquals(base + 1000 + 80, m.keyAddress(2, 1));
        assertEquals(base + 1000 + 85, m.valueAddress(2, 1));
    }

    @Test
    void defaultReadAndWrite_copyAtTheBlockAddresses_keysAndValuesApart() {
        ByteBuffer b = ByteBuffer.allocateDirect(4096);
        long base = BufferUtil.address(b);
        BlockMemory m = BlockMemory.ofRows(4, (l, p) -> base + l * 1000L + p * 10L, (l, p) -> base + l * 1000L + p * 10L + 5);
        byte[] src = {1, 2, 3, 4, 5, 6, 7};
        m.write(2, 1, false, src, 2, 4);  // keys of block 2, layer 1: at 1000 + 80
        m.write(2, 1, true, src, 0, 3);   // values: at 1000 + 85
        assertEquals(3, b.get(1080));
        assertEquals(6, b.get(1083));
        assertEquals(1, b.get(1085));
        assertEquals(3, b.get(1087));
        byte[] dst = new byte[6];
        m.read(2, 1, false, dst, 1, 5);
        assertEquals("[0, 3, 4, 5, 6, 0]", java.util.Arrays.toString(dst), "the keys written, then the byte before the values");
    }

    @Test
    void ofRows_rejectsANonPositiveBlockSize() {
        assertThrows(IllegalArgumentException.class, () -> BlockMemory.ofRows(0, (l, p) -> 0, (l, p) -> 0));
    }
}

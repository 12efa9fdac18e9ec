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
    void ofRows_rejectsANonPositiveBlockSize() {
        assertThrows(IllegalArgumentException.class, () -> BlockMemory.ofRows(0, (l, p) -> 0, (l, p) -> 0));
    }
}

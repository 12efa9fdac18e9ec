package io.tierkv.cuda.ops;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class ArgumentChecksTest {

    @Test
    void address_refusesNullAndMisaligned() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Args.address("x", 0, 4)).getMessage().contains("x must be"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Args.address("w", 0x1002, 4)).getMessage().contains("4-byte"));
        Args.address("w", 0x1002, 2);
        Args.optionalAddress("residual", 0, 4);
    }

    @Test
    void rope_refusesOddHeadDimAndPositionsPastTheTables() {
        assertThrows(IllegalArgumentException.class, () -> CudaDecoderOps.checkRope(1, 2, 1, 7, 0, 10));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> CudaDecoderOps.checkRope(4, 2, 1, 8, 7, 10));
        assertTrue(e.getMessage().contains("[7, 11)"), e.getMessage());
        CudaDecoderOps.checkRope(3, 2, 1, 8, 7, 10);
    }
}

package io.tierkv.cuda.ops;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * The GEMV and GEMM launches (and their host mirror) refuse an output that overlaps the input: on a GPU the CTAs would
 * race (each reads input another writes), under the sequential emulator nothing would show.
 */
class LinearOverlapTest {
    @Test
    void anOutputOverlappingTheInput_isRefusedWithBothRanges_adjacentOnesPass() {
        assertDoesNotThrow(() -> CudaLinear.refuseOverlap("GEMV", 0x1100, 256, 0x1000, 256), "y right after x");
        assertDoesNotThrow(() -> CudaLinear.refuseOverlap("GEMV", 0x1000, 256, 0x1100, 64), "x right after y");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> CudaLinear.refuseOverlap("GEMM", 0x10fc, 256, 0x1000, 256));
        assertTrue(e.getMessage().contains("GEMM") && e.getMessage().contains("0x10fc + 256") && e.getMessage().contains("0x1000 + 256"),
                e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> CudaLinear.refuseOverlap("GEMV", 0x1000, 4, 0x1000, 4), "in place");
        assertThrows(IllegalArgumentException.class, () -> CudaLinear.refuseOverlap("GEMV", 0x0f00, 4096, 0x1000, 16), "x inside y");
    }
}

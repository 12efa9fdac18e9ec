package io.tierkv.cuda.blocks;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class GpuAlignmentTest {

    @Test
    void cudaGather_refusesBlockSizesThatAreNotMultiplesOf16() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> CudaBlockGather.check(7 * 10, new int[] {1}, 1, 7, 70, 0));
        assertTrue(e.getMessage().contains("multiple of 16"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> CudaBlockGather.check(48 * 10, new int[] {1}, 1, 48, 480, 8));
        CudaBlockGather.check(48 * 10, new int[] {1}, 1, 48, 480, 16);
    }
}

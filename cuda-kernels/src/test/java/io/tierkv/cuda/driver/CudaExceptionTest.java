package io.tierkv.cuda.driver;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jcuda.driver.CUresult;
import org.junit.jupiter.api.Test;

class CudaExceptionTest {

    @Test
    void check_success_doesNothing() {
        assertDoesNotThrow(() -> Cuda.check(CUresult.CUDA_SUCCESS, "nothing"));
    }

    @Test
    void check_failure_namesTheErrorAndTheAction() {
        CudaException e = assertThrows(CudaException.class,
                () -> Cuda.check(CUresult.CUDA_ERROR_OUT_OF_MEMORY, "cuMemAlloc of 42 bytes on device 0"));
        assertEquals("CUDA_ERROR_OUT_OF_MEMORY", e.errorName());
        assertEquals(CUresult.CUDA_ERROR_OUT_OF_MEMORY, e.result());
        assertTrue(e.getMessage().startsWith("CUDA_ERROR_OUT_OF_MEMORY (2) while cuMemAlloc of 42 bytes"), e.getMessage());
    }

    @Test
    void checkRange_outside_namesBufferOffsetAndLength() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> CudaCopies.checkRange("dst (pinned)", 100, 90, 20));
        assertTrue(e.getMessage().contains("dst (pinned)") && e.getMessage().contains("[90, 90 + 20)") && e.getMessage().contains("100"),
                e.getMessage());
        assertDoesNotThrow(() -> CudaCopies.checkRange("dst", 100, 80, 20));
        assertDoesNotThrow(() -> CudaCopies.checkRange("dst", 100, 100, 0));
        assertThrows(IllegalArgumentException.class, () -> CudaCopies.checkRange("dst", 100, -1, 1));
        assertThrows(IllegalArgumentException.class, () -> CudaCopies.checkRange("dst", 100, 0, -1));
        assertThrows(IllegalArgumentException.class, () -> CudaCopies.checkRange("dst", Long.MAX_VALUE, Long.MAX_VALUE, 2));
    }

    @Test
    void kernelModule_missingMessage_saysHowToBuild() {
        assertTrue(KernelModule.missingMessage("nosuch").contains("mvn -pl cuda-kernels package"));
        assertTrue(!KernelModule.available("nosuch"));
    }
}

package io.tierkv.cuda.driver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import jcuda.driver.CUresult;
import org.junit.jupiter.api.Test;

/** The fatbin-then-PTX order of {@link KernelModule#load}, with a fake driver. */
class KernelModuleFallbackTest {
    static final byte[] FATBIN = {1, 2, 3};
    static final byte[] PTX = {'.', 'p'};

    /** A driver that answers with the given results in turn and remembers the image sizes it saw. */
    static final class FakeLoad implements java.util.function.ToIntFunction<byte[]> {
        final List<Integer> sizes = new ArrayList<>();
        final int[] results;

        FakeLoad(int... results) {
            this.results = results;
        }

        @Override
        public int applyAsInt(byte[] image) {
            sizes.add(image.length);
            return results[sizes.size() - 1];
        }
    }

    @Test
    void fatbinThatLoads_isUsed_andThePtxIsNotTried() {
        FakeLoad load = new FakeLoad(CUresult.CUDA_SUCCESS);
        assertEquals("m.fatbin", KernelModule.loadImage("m", FATBIN, PTX, load, "device 0"));
        assertEquals(List.of(3), load.sizes);
    }

    @Test
    void fatbinTheDriverRejects_fallsBackToNulTerminatedPtx() {
        FakeLoad load = new FakeLoad(CUresult.CUDA_ERROR_NO_BINARY_FOR_GPU, CUresult.CUDA_SUCCESS);
        assertEquals("m.ptx", KernelModule.loadImage("m", FATBIN, PTX, load, "device 0"));
        assertEquals(List.of(3, 3), load.sizes); // the PTX gained its NUL
    }

    @Test
    void missingFatbin_usesThePtx() {
        FakeLoad load = new FakeLoad(CUresult.CUDA_SUCCESS);
        assertEquals("m.ptx", KernelModule.loadImage("m", null, PTX, load, "device 0"));
    }

    @Test
    void bothFailing_namesBothErrors() {
        FakeLoad load = new FakeLoad(CUresult.CUDA_ERROR_NO_BINARY_FOR_GPU, CUresult.CUDA_ERROR_UNSUPPORTED_PTX_VERSION);
        CudaException e = assertThrows(CudaException.class, () -> KernelModule.loadImage("m", FATBIN, PTX, load, "device 0"));
        assertTrue(e.getMessage().contains("CUDA_ERROR_NO_BINARY_FOR_GPU") && e.getMessage().contains("CUDA_ERROR_UNSUPPORTED_PTX_VERSION"),
                e.getMessage());
    }

    @Test
    void neitherImage_saysHowToBuildThem() {
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> KernelModule.loadImage("m", null, null, new FakeLoad(), "device 0"));
        assertTrue(e.getMessage().contains("nvcc"), e.getMessage());
    }
}

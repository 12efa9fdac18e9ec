package io.tierkv.bench;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.tierkv.cuda.driver.Backend;
import io.tierkv.cuda.driver.BackendSelection;
import org.junit.jupiter.api.Test;

/** {@code --backend}: the names, the commands without a CUDA path, and what auto and cuda decide on a machine without a GPU. */
class ModelOptionsBackendTest {
    private static ModelOptions options(String backend) {
        ModelOptions o = new ModelOptions();
        o.backend = backend;
        o.blockSize = 16;
        return o;
    }

    @Test
    void anUnknownBackend_isAnErrorNamingTheChoices() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> options("gpu").validate(true));
        assertTrue(e.getMessage().contains("auto, cpu or cuda"), e.getMessage());
    }

    @Test
    void cuda_onACommandWithoutACudaPath_isAnErrorPointingAtTheCommandsWithOne() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> options("cuda").validate());
        assertTrue(e.getMessage().contains("generate, eval, demo, trace record, bench decode and bench remote"), e.getMessage());
        options("auto").validate();
        options("cpu").validate();
    }

    @Test
    void cpu_neverProbesTheGpu() {
        assertFalse(options("CPU").useCuda(true));
    }

    @Test
    void withoutAGpu_autoFallsBackToTheCpu_andCudaIsOneError() {
        BackendSelection found = BackendSelection.probe("auto");
        assumeTrue(found.backend() != Backend.CUDA, "this machine has a GPU");
        assertFalse(options("auto").useCuda(true));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> options("cuda").useCuda(true));
        assertTrue(e.getMessage().startsWith("--backend cuda: no usable GPU: "), e.getMessage());
    }

    @Test
    void settingsTheCudaPathCannotRun_failCudaWithTheReason_andSendAutoToTheCpu() {
        String why = "--mode chunked with --backend cuda: the CUDA decoder prefills token by token";
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> options("cuda").useCuda(why));
        assertTrue(e.getMessage().equals(why), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> options("cuda").useCuda("snapkv observes the prompt's rows"));
        assertTrue(e.getMessage().equals("--backend cuda: snapkv observes the prompt's rows"), e.getMessage());
        assertFalse(options("auto").useCuda(why));
    }
}

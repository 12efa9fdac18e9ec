package io.tierkv.tiering;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.tierkv.cuda.driver.Backend;
import io.tierkv.cuda.driver.BackendSelection;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;

/** The tiering contract on CUDA (device and pinned arenas, copy streams); skipped without a usable GPU. */
@Tag("gpu")
class CudaTieringTest extends TieringContract {
    @BeforeEach
    void requireGpu() {
        BackendSelection s = BackendSelection.probe("auto");
        assumeTrue(s.backend() == Backend.CUDA, () -> "no usable GPU: " + s.reason());
    }

    @Override
    Backend backend() {
        return Backend.CUDA;
    }
}

package io.tierkv.cuda.driver;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Test helper: skips a {@code gpu} test, by assumption, when this process has no usable GPU. */
public final class Gpu {
    private Gpu() {
    }

    /** Skips the calling test unless the backend is CUDA; the skip message says why. */
    public static void assumeCuda() {
        BackendSelection s = BackendSelection.probe("auto");
        assumeTrue(s.backend() == Backend.CUDA, () -> "no usable GPU: " + s.reason());
    }
}

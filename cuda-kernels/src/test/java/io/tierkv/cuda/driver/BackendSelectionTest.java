package io.tierkv.cuda.driver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class BackendSelectionTest {

    @Test
    void probe_cpu_isCpuAndSaysItWasForced() {
        BackendSelection s = BackendSelection.probe("cpu");
        assertEquals(Backend.CPU, s.backend());
        assertTrue(s.reason().contains("forced"), s.reason());
    }

    @Test
    void probe_auto_neverThrowsAndExplainsACpuFallback() {
        BackendSelection s = BackendSelection.probe("auto");
        assertFalse(s.reason().isBlank());
        if (s.backend() == Backend.CPU) {
            // On this project's build machine: no libcuda.so.1, so the JCuda driver library cannot load.
            assertTrue(s.reason().contains("did not load") || s.reason().contains("driver"), s.reason());
            assertFalse(s.reason().contains("\n"), "the reason is one line: " + s.reason());
        }
    }

    @Test
    void probe_auto_twice_givesTheSameAnswer() {
        assertEquals(BackendSelection.probe("auto"), BackendSelection.probe("AUTO"));
    }

    @Test
    void probe_cuda_withoutAGpu_throwsWithTheReason() {
        BackendSelection auto = BackendSelection.probe("auto");
        if (auto.backend() == Backend.CPU) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> BackendSelection.probe("cuda"));
            assertTrue(e.getMessage().contains(auto.reason()), e.getMessage());
        } else {
            assertEquals(Backend.CUDA, BackendSelection.probe("cuda").backend());
        }
    }

    @Test
    void probe_unknownMode_namesTheProperty() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> BackendSelection.probe("tpu"));
        assertTrue(e.getMessage().contains("tierkv.backend") && e.getMessage().contains("tpu"), e.getMessage());
    }

    @Test
    void select_isCachedAndAgreesWithAuto() {
        BackendSelection first = BackendSelection.select();
        assertTrue(first == BackendSelection.select());
        assertEquals(BackendSelection.probe(System.getProperty(BackendSelection.PROPERTY, "auto")).backend(), first.backend());
    }

    @Test
    void linkReason_namesTheMissingLibrary() {
        UnsatisfiedLinkError e = new UnsatisfiedLinkError("Error while loading native library \"JCudaDriver\"\n"
                + "java.lang.UnsatisfiedLinkError: /tmp/libJCudaDriver-12.6.0-linux-x86_64.so: libcuda.so.1: cannot open shared object file: No such file");
        assertEquals("libcuda.so.1 not found: no NVIDIA driver on this machine", BackendSelection.linkReason(e));
        UnsatisfiedLinkError cublas = new UnsatisfiedLinkError("x.so: libcublas.so.12: cannot open shared object file");
        assertEquals("libcublas.so.12 not found", BackendSelection.linkReason(cublas));
    }

    @Test
    void kernels_allPresent_noneMissing_oneAbsent_isNamed() {
        org.junit.jupiter.api.Assertions.assertNull(BackendSelection.firstMissing(n -> true));
        assertEquals("linear", BackendSelection.firstMissing(n -> !n.equals("linear")));
        assertTrue(BackendSelection.KERNEL_MODULES.contains("paged_attention"));
    }

    /** One module per {@code .cu} file: a kernel file added without its module here would let auto pick CUDA without it. */
    @Test
    void kernelModules_areExactlyTheCudaSources() throws java.io.IOException {
        try (java.util.stream.Stream<java.nio.file.Path> files = java.nio.file.Files.list(java.nio.file.Path.of("src/main/cuda"))) {
            java.util.Set<String> sources = files.map(f -> f.getFileName().toString()).filter(n -> n.endsWith(".cu"))
                    .map(n -> n.substring(0, n.length() - 3)).collect(java.util.stream.Collectors.toSet());
            assertEquals(sources, java.util.Set.copyOf(BackendSelection.KERNEL_MODULES));
        }
    }
}

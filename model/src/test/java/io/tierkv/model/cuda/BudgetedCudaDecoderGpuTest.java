package io.tierkv.model.cuda;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.tierkv.cuda.driver.Backend;
import io.tierkv.cuda.driver.BackendSelection;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link BudgetedHostDecoderTest} on GPU 0: the policies that evict at a budget keep what they keep on the CPU and generate
 * the same tokens as the host mirror (held to the CPU by that test), in paper and chunked mode (H2O reads every step's probability rows back, SnapKV its prompt rows, over
 * the 2-D copy of their used columns), and a bounded host frees the same blocks. Skipped without a GPU.
 */
@Tag("gpu")
class BudgetedCudaDecoderGpuTest {
    @BeforeEach
    void needsGpu() {
        BackendSelection s = BackendSelection.probe("auto");
        assumeTrue(s.backend() == Backend.CUDA, () -> "no usable GPU: " + s.reason());
    }

    @ParameterizedTest
    @ValueSource(strings = {"snapkv", "h2o"})
    void onTheGpu_keepsAndGeneratesAsTheCpu_inBothModes(String policy) {
        BudgetedHostDecoderTest.keepsAndGeneratesAsTheCpu(policy, false);
    }

    @ParameterizedTest
    @ValueSource(strings = {"h2o"})
    void onTheGpu_boundedHost_freesAndGeneratesAsTheCpu(String policy) {
        BudgetedHostDecoderTest.boundedHostFreesAndGeneratesAsTheCpu(policy, false);
    }
}

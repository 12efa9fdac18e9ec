package io.tierkv.model.cuda;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.tierkv.cuda.driver.Backend;
import io.tierkv.cuda.driver.BackendSelection;
import io.tierkv.model.generate.RedisServer;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link CudaRemotePrefixTest}'s loads on GPU 0, where the blocks are copied into and out of device slots through the
 * driver (the slab's ranged copies, one wait per block): the second generation loads the prefix and produces the same
 * tokens, with an unbounded or a bounded host. Needs a GPU and {@code redis-server}; skipped by assumption without either.
 */
@Tag("gpu")
class CudaRemotePrefixGpuTest {
    @BeforeEach
    void needsGpuAndRedis() {
        BackendSelection s = BackendSelection.probe("auto");
        assumeTrue(s.backend() == Backend.CUDA, () -> "no usable GPU: " + s.reason());
        RedisServer.assumeInstalled();
    }

    @ParameterizedTest
    @ValueSource(strings = {"paper", "chunked", "paper-digest", "paper-host-budget"})
    void onTheGpu_secondGenerationLoadsThePrefix_andProducesTheSameTokens(String mode, @TempDir Path dir) throws Exception {
        CudaRemotePrefixTest.secondGenerationLoadsThePrefix(mode, dir, false);
    }
}

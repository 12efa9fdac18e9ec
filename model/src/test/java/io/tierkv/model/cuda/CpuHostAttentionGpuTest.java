package io.tierkv.model.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.tierkv.core.DType;
import io.tierkv.core.memory.MemoryLedger;
import io.tierkv.core.policy.Policies;
import io.tierkv.cuda.driver.Backend;
import io.tierkv.cuda.driver.BackendSelection;
import io.tierkv.model.BundledModel;
import io.tierkv.model.generate.GenerationResult;
import io.tierkv.model.generate.HostRead;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link HostAttention#CPU} on the GPU: the bundled model tiered with {@code hierarchical} at 25% of the prompt, the host
 * tier attended on the CPU from the pinned slab (its result uploaded and merged on the device) generates the mapped
 * kernel's greedy tokens, with exact reads and with plain {@code digest}; no device or pinned byte is left behind. The host
 * mirror twin is {@code CpuHostAttentionDecoderTest}.
 */
@Tag("gpu")
class CpuHostAttentionGpuTest {
    @BeforeEach
    void needsGpu() {
        BackendSelection s = BackendSelection.probe("auto");
        assumeTrue(s.backend() == Backend.CUDA, () -> "no usable GPU: " + s.reason());
    }

    @ParameterizedTest
    @ValueSource(strings = {"exact", "digest"})
    void cpuHostAttention_onTheGpu_equalsTheMappedKernel(String mode) {
        int[] prompt = DecoderFixture.load().cases().get(1).prompt();
        int n = CpuHostAttentionDecoderTest.NEW_TOKENS;
        int block = CpuHostAttentionDecoderTest.BLOCK;
        int perLayer = Math.max(1, prompt.length / 4 / block);
        int[][] tokens = new int[2][];
        float[][] logits = new float[2][];
        MemoryLedger.Snapshot before = MemoryLedger.snapshot();
        HostAttention[] where = {HostAttention.MAPPED, HostAttention.CPU};
        for (int d = 0; d < 2; d++) {
            try (CudaDecoder decoder = CudaDecoder.load(BundledModel.directory(), prompt.length + n, block, DType.F32, CudaStepDevice::new,
                    KvStores.tiered(Backend.CUDA, perLayer, () -> Policies.create(CpuHostAttentionDecoderTest.POLICY), HostRead.parse(mode),
                            where[d]))) {
                assertEquals(where[d], decoder.hostAttention());
                GenerationResult g = decoder.generate(prompt, n, -1, null);
                tokens[d] = g.tokens();
                logits[d] = decoder.logits();
                assertTrue(decoder.residency()[1] > decoder.residency()[0], "most blocks on the host tier");
            }
        }
        before.assertNoLeaks();
        assertArrayEquals(tokens[0], tokens[1], "greedy tokens, CPU host attention vs the mapped kernel");
        double diff = DecoderFixture.maxAbsDiff(logits[0], logits[1]);
        assertTrue(diff <= 2e-3, "last-step logits differ by " + diff);
    }
}

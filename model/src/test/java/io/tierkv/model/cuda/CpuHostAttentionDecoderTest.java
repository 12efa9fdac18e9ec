package io.tierkv.model.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.core.policy.Policies;
import io.tierkv.cuda.driver.Backend;
import io.tierkv.model.BundledModel;
import io.tierkv.model.generate.GenerationResult;
import io.tierkv.model.generate.HostRead;
import io.tierkv.model.generate.HostReadStats;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link HostAttention#CPU} against {@link HostAttention#MAPPED} in the tiered CUDA decoder, on the host mirror: the host
 * tier attended on the CPU (and its popularity probabilities computed there) generates the same tokens, logits, host reads
 * and popularity top-k as the paged kernel over the host slab, with exact reads and with plain {@code digest}'s per-head
 * slices (its head mask). The GPU twin is {@code HierarchicalCudaDecoderGpuTest}'s CPU host-attention case.
 */
class CpuHostAttentionDecoderTest {
    static final String POLICY = "hierarchical:window=8";
    static final int NEW_TOKENS = 24;
    static final int BLOCK = 16;

    record Run(GenerationResult result, float[] logits, HostReadStats stats, int[][] selected, int[] residency) { }

    static Run decode(HostRead read, HostAttention where) {
        int[] prompt = DecoderFixture.load().cases().get(1).prompt();
        int perLayer = Math.max(1, prompt.length / 4 / BLOCK);
        try (CudaDecoder decoder = CudaDecoder.load(BundledModel.directory(), prompt.length + NEW_TOKENS, BLOCK, null, HostStepDevice::new,
                KvStores.tiered(Backend.CPU, perLayer, () -> Policies.create(POLICY), read, where))) {
            assertEquals(where, decoder.hostAttention());
            GenerationResult g = decoder.generate(prompt, NEW_TOKENS, -1, null);
            int[] residency = decoder.residency();
            return new Run(g, decoder.logits(), decoder.hostReadStats(), decoder.lastSelected(), residency);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"exact", "digest"})
    void cpuHostAttention_equalsTheKernelOverTheHostSlab(String mode) {
        HostRead read = HostRead.parse(mode);
        Run mapped = decode(read, HostAttention.MAPPED);
        Run cpu = decode(read, HostAttention.CPU);
        assertTrue(mapped.residency()[1] > mapped.residency()[0], "most blocks on the host tier");
        assertArrayEquals(mapped.result().tokens(), cpu.result().tokens(), "greedy tokens");
        double diff = DecoderFixture.maxAbsDiff(mapped.logits(), cpu.logits());
        assertTrue(diff <= 1e-5, "last-step logits differ by " + diff);
        assertEquals(mapped.stats().blocksRead(), cpu.stats().blocksRead(), 1e-9, "host blocks read");
        assertEquals(mapped.selected().length, cpu.selected().length, "layers observed");
        for (int l = 0; l < mapped.selected().length; l++) {
            assertArrayEquals(sorted(mapped.selected()[l]), sorted(cpu.selected()[l]), "layer " + l + ": the popularity top-k of the last step");
        }
    }

    private static int[] sorted(int[] a) {
        int[] b = a.clone();
        java.util.Arrays.sort(b);
        return b;
    }

    @Test
    void unknownHostAttention_namesThePropertyAndTheChoices() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> HostAttention.parse("gpu"));
        assertTrue(e.getMessage().contains("tierkv.hostAttention=gpu") && e.getMessage().contains("mapped or cpu"), e.getMessage());
        assertEquals(HostAttention.CPU, HostAttention.parse(" CPU "));
        assertEquals(HostAttention.MAPPED, HostAttention.parse("mapped"));
    }
}

package io.tierkv.model.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.core.policy.Policies;
import io.tierkv.cuda.driver.Backend;
import io.tierkv.model.BundledModel;
import io.tierkv.model.generate.GenerationResult;
import io.tierkv.model.generate.PrefillMode;
import io.tierkv.model.generate.Sampler;
import io.tierkv.model.generate.TieredSession;
import io.tierkv.model.llama.LlamaCheckpoint;
import io.tierkv.model.llama.LlamaWeights;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The popularity top-k in {@link CudaDecoder}'s loop, on the host mirror ({@link HostStepDevice}, CPU tiers): with the
 * paper's {@code hierarchical} policy (windows shortened so that several close) at 25% of the prompt on the device tier,
 * every decode step's selected positions per layer (probabilities by token position from the merged lse, the top-k,
 * {@code observeSelected}) equal the top-k of the libtorch {@code TieredDecoder}'s probabilities for the same step, and
 * the greedy tokens are the same, evictions included. The GPU twin is {@code HierarchicalCudaDecoderGpuTest}.
 */
class HierarchicalHostDecoderTest {
    static final String POLICY = "hierarchical:window=8";
    static final int NEW_TOKENS = 40;
    static final int K = 8;
    static final int BLOCK = 16;

    @Test
    void hierarchicalAtAQuarter_selectsTheLibtorchDecodersTopK_andGeneratesItsTokens() {
        DecoderFixture.Case want = DecoderFixture.load().cases().get(1);
        int[] prompt = want.prompt();
        SelectionRecorder cpu = new SelectionRecorder(Policies.create(POLICY), K);
        GenerationResult reference;
        try (LlamaWeights w = LlamaCheckpoint.load(BundledModel.directory());
             TieredSession s = new TieredSession(w, cpu, prompt.length, 0.25, BLOCK, NEW_TOKENS, 0)) {
            reference = s.generate(prompt, NEW_TOKENS, PrefillMode.PAPER, 128, Sampler.greedy(), -1, null, null);
        }
        int perLayer = Math.max(1, prompt.length / 4 / BLOCK);
        SelectionRecorder[] host = new SelectionRecorder[1];
        try (CudaDecoder decoder = CudaDecoder.load(BundledModel.directory(), prompt.length + NEW_TOKENS, BLOCK, null, HostStepDevice::new,
                KvStores.tiered(Backend.CPU, perLayer, () -> host[0] = new SelectionRecorder(Policies.create(POLICY), K)))) {
            GenerationResult g = decoder.generate(prompt, NEW_TOKENS, -1, null);
            assertArrayEquals(reference.tokens(), g.tokens(), "greedy tokens of the libtorch tiered decoder, same policy and budget");
            assertTrue(decoder.tierStats().d2hBytes() > 0, "blocks were demoted");
            assertTrue(decoder.residency()[0] <= perLayer * decoder.config().layers(), "device tier within its budget");
        }
        List<int[][]> a = cpu.steps();
        List<int[][]> b = host[0].steps();
        assertEquals(NEW_TOKENS - 1, a.size(), "libtorch: one observed step per generated token after the first");
        assertEquals(a.size(), b.size(), "observed steps");
        for (int t = 0; t < a.size(); t++) {
            for (int l = 0; l < a.get(t).length; l++) {
                assertEquals(K, b.get(t)[l].length, "k positions at step " + t + " layer " + l);
                assertArrayEquals(a.get(t)[l], b.get(t)[l], "top-k at step " + t + " layer " + l);
            }
        }
        assertTrue(evicted(host[0]), "the policy's windows closed and evicted tokens (the test would not tell a dead loop)");
    }

    /** Whether some token of the recorded policy is at level EVICT now. */
    private static boolean evicted(SelectionRecorder p) {
        for (int t = 0; t < p.length(); t++) {
            if (p.level(0, t) == io.tierkv.core.Level.EVICT_CODE) {
                return true;
            }
        }
        return false;
    }

    @Test
    void aPolicyThatReadsPromptRowsAtPrefill_isRefusedInOneLine() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> CudaDecoder.load(BundledModel.directory(), 64,
                BLOCK, null, HostStepDevice::new, KvStores.tiered(Backend.CPU, 1, () -> Policies.create("snapkv"))));
        assertTrue(e.getMessage().contains("snapkv") && e.getMessage().contains("--backend cpu"), e.getMessage());
    }
}

package io.tierkv.model.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.core.policy.Policies;
import io.tierkv.core.policy.PolicyContext;
import io.tierkv.core.popularity.PopularityCounters;
import io.tierkv.model.generate.HostRead;
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
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

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

    /**
     * SnapKV and H2O decide at the end of prefill from the prompt's attention rows: the CUDA decoder copies those rows
     * back while it prefills token by token, and the policy keeps what it keeps after libtorch's dense prefill.
     */
    @ParameterizedTest
    @ValueSource(strings = {"snapkv", "h2o"})
    void aPolicyThatReadsPromptRows_seesThemOnTheCudaDecoder_andKeepsWhatTheCpuKeeps(String policy) {
        int[] prompt = DecoderFixture.load().cases().get(1).prompt();
        int p = prompt.length;
        int budget = p / 4;
        boolean[][] cpu;
        int[][] cpuPrior;
        try (LlamaWeights w = LlamaCheckpoint.load(BundledModel.directory());
             TieredSession s = new TieredSession(w, Policies.create(policy), p, 0.25, BLOCK, 4, 0)) {
            s.decoder().prefillDense(s.sequence(), s.sequence().policy(), prompt);
            cpu = masks(s.sequence(), w.config.layers(), p);
            cpuPrior = s.sequence().priorCounts();
        }
        int perLayer = Math.max(1, budget / BLOCK);
        try (CudaDecoder decoder = CudaDecoder.loadTiered(BundledModel.directory(), p + 4, BLOCK, perLayer, policy, null, HostRead.EXACT,
                true)) {
            int layers = decoder.config().layers();
            decoder.reset(new PolicyContext(layers, p, budget, PopularityCounters.java()), perLayer * layers, Integer.MAX_VALUE);
            decoder.prefill(prompt);
            decoder.endPrefill();
            boolean[][] gpu = masks(decoder.sequence(), layers, p);
            for (int l = 0; l < layers; l++) {
                int kept = 0;
                int agree = 0;
                for (int t = 0; t < p; t++) {
                    kept += gpu[l][t] ? 0 : 1;
                    agree += gpu[l][t] == cpu[l][t] ? 1 : 0;
                }
                assertTrue(kept < p, policy + " layer " + l + ": the policy evicted at the end of prefill");
                assertTrue(agree >= 0.97 * p, policy + " layer " + l + ": " + agree + " of " + p + " tokens judged as on the CPU");
            }
            assertArrayEquals(cpuPrior, decoder.sequence().priorCounts(), "the placement's prior: the last prompt queries' top-k per block");
        }
    }

    private static boolean[][] masks(io.tierkv.tiering.Sequence seq, int layers, int tokens) {
        boolean[][] out = new boolean[layers][tokens];
        for (int l = 0; l < layers; l++) {
            for (int t = 0; t < tokens; t++) {
                out[l][t] = seq.masked(l, t);
            }
        }
        return out;
    }
}

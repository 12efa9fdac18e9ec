package io.tierkv.model.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.core.DType;
import io.tierkv.core.KvLayout;
import io.tierkv.core.memory.MemoryLedger;
import io.tierkv.core.policy.KvPolicy;
import io.tierkv.core.policy.Policies;
import io.tierkv.core.policy.PolicyContext;
import io.tierkv.model.llama.LlamaConfig;
import io.tierkv.model.llama.LlamaForward;
import io.tierkv.model.llama.LlamaWeights;
import io.tierkv.model.llama.Tensors;
import io.tierkv.model.llama.TestModels;
import io.tierkv.tiering.Sequence;
import io.tierkv.tiering.TierConfig;
import io.tierkv.tiering.TierManager;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The tiered decoder against dense recomputation: with the {@code full} policy the cache changes nothing,
 * wherever its blocks lie, so every step's logits must equal those of a full forward pass over the whole
 * sequence so far. Bound: 2e-4 max abs logit difference in float32 (logits are O(1)).
 */
class TieredDecoderTest {
    static final double BOUND = 2e-4;
    static LlamaWeights weights;
    static LlamaConfig config;

    @BeforeAll
    static void model() {
        config = TestModels.tiny();
        weights = LlamaWeights.random(config, 21, 0.1, false);
    }

    @AfterAll
    static void free() {
        weights.close();
    }

    private static float[] denseLastLogits(int[] ids) {
        Tensor t = Tensors.fromInts(ids, 1, ids.length);
        Tensor logits = new LlamaForward(weights).logits(t);
        return Tensors.toFloats(logits.select(1, ids.length - 1).view(-1));
    }

    private static double maxDiff(float[] a, float[] b) {
        double m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs(a[i] - b[i]));
        }
        return m;
    }

    @ParameterizedTest(name = "mode={0} blockSize={1} deviceBlocksPerLayer={2}")
    @CsvSource({"PAPER,16,2", "PAPER,4,3", "PAPER,1,5", "CHUNKED,16,3", "CHUNKED,4,4", "PAPER,16,64"})
    void incrementalDecoding_withFullPolicy_equalsFullRecomputation(PrefillMode mode, int blockSize, int perLayer) {
        MemoryLedger.Snapshot before = MemoryLedger.snapshot();
        KvLayout layout = new KvLayout(config.layers(), config.kvHeads(), config.headDim(), DType.F32, blockSize);
        SplittableRandom rnd = new SplittableRandom(blockSize * 31L + perLayer);
        int[] prompt = new int[37];
        for (int i = 0; i < prompt.length; i++) {
            prompt[i] = 3 + rnd.nextInt(config.vocabSize() - 3);
        }
        int budget = perLayer * config.layers();
        try (TierManager tiers = TierManager.create(TierConfig.cpu(layout, budget + config.layers(), 512))) {
            TieredDecoder decoder = new TieredDecoder(weights, tiers);
            KvPolicy policy = Policies.create("full");
            PolicyContext ctx = PolicyContext.unbounded(config.layers(), prompt.length);
            try (Sequence seq = tiers.open(policy, ctx, budget)) {
                int[] ids = prompt.clone();
                float[] logits;
                if (mode == PrefillMode.PAPER) {
                    logits = decoder.prefillDense(seq, policy, prompt);
                } else {
                    logits = null;
                    for (int s = 0; s < prompt.length; s += 8) {
                        logits = decoder.forward(seq, policy, Arrays.copyOfRange(prompt, s, Math.min(prompt.length, s + 8)), true);
                    }
                    seq.endPrefill();
                }
                assertTrue(maxDiff(logits, denseLastLogits(ids)) < BOUND, "prefill logits");
                for (int step = 0; step < 12; step++) {
                    int next = Sampler.argmax(logits);
                    ids = Arrays.copyOf(ids, ids.length + 1);
                    ids[ids.length - 1] = next;
                    logits = decoder.forward(seq, policy, new int[] {next}, true);
                    double d = maxDiff(logits, denseLastLogits(ids));
                    assertTrue(d < BOUND, "step " + step + ": max abs logit difference " + d);
                }
                assertTrue(seq.committedDeviceBlocks() <= budget, "device budget respected: " + seq.committedDeviceBlocks());
                if (perLayer * blockSize < ids.length) {
                    assertTrue(seq.committedHostBlocks() > 0, "some blocks must have been demoted to the host (copies may still be in flight)");
                }
                assertEquals(ids.length, seq.keptTokens());
            }
        }
        before.assertNoLeaks();
    }

    @ParameterizedTest(name = "policy={0}")
    @CsvSource({"full", "hierarchical:window=4,k=3", "streaming:sinks=2,window=16", "h2o", "snapkv:window=8"})
    void generation_isDeterministic_andEveryPolicyRuns(String spec) {
        KvLayout layout = new KvLayout(config.layers(), config.kvHeads(), config.headDim(), DType.F32, 4);
        int[] prompt = new int[40];
        for (int i = 0; i < prompt.length; i++) {
            prompt[i] = 3 + (i * 7) % (config.vocabSize() - 3);
        }
        int[][] runs = new int[2][];
        for (int r = 0; r < 2; r++) {
            try (TierManager tiers = TierManager.create(TierConfig.cpu(layout, 64, 512))) {
                KvPolicy policy = Policies.create(spec);
                try (Sequence seq = tiers.open(policy, PolicyContext.bounded(config.layers(), prompt.length, 24), 24)) {
                    GenerationResult g = new Generator(new TieredDecoder(weights, tiers))
                            .generate(seq, policy, prompt, 20, PrefillMode.PAPER, 8, Sampler.greedy(), -1, t -> { }, null);
                    runs[r] = g.tokens();
                    assertEquals(20, g.tokens().length);
                    seq.policy().checkInvariants();
                }
            }
        }
        assertArrayEquals(runs[0], runs[1]);
    }
}

package io.tierkv.model.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.core.policy.Policies;
import io.tierkv.cuda.driver.Backend;
import io.tierkv.model.BundledModel;
import io.tierkv.model.generate.DeviceBudget;
import io.tierkv.model.generate.GenerationResult;
import io.tierkv.model.generate.HostRead;
import io.tierkv.model.generate.HostReadStats;
import io.tierkv.model.generate.PrefillMode;
import io.tierkv.model.generate.Sampler;
import io.tierkv.model.generate.TieredSession;
import io.tierkv.model.llama.LlamaCheckpoint;
import io.tierkv.model.llama.LlamaWeights;
import org.junit.jupiter.api.Test;

/**
 * {@link CudaDecoder}'s digest host reads on the host mirror ({@link HostStepDevice}: {@code DigestMirror} as the digest
 * kernels, CPU tiers) with the paper's {@code hierarchical} policy at 25% of the prompt on the device tier: reading at
 * least as many blocks as the host holds is exact mode, token for token (logits to float rounding); reading one block per layer
 * reads exactly one host block per layer and decode step, and the popularity path still observes every step. The GPU
 * twin is {@code DigestCudaDecoderGpuTest}.
 */
class DigestHostDecoderTest {
    static final String POLICY = "hierarchical:window=8";
    static final int NEW_TOKENS = 24;
    static final int BLOCK = 16;
    /** Logits of the two modes may differ by float rounding only (they are of order 1). */
    static final double LOGIT_TOLERANCE = 1e-5;

    /** Decodes the fixture's second prompt; the last logits, read stats and last top-k come back through the arrays. */
    private static GenerationResult decode(HostRead read, float[][] logits, HostReadStats[] stats, int[][][] selected) {
        int[] prompt = DecoderFixture.load().cases().get(1).prompt();
        int perLayer = Math.max(1, prompt.length / 4 / BLOCK);
        try (CudaDecoder decoder = CudaDecoder.load(BundledModel.directory(), prompt.length + NEW_TOKENS, BLOCK, null, HostStepDevice::new,
                KvStores.tiered(Backend.CPU, perLayer, () -> Policies.create(POLICY), read))) {
            GenerationResult g = decoder.generate(prompt, NEW_TOKENS, -1, null);
            logits[0] = decoder.logits();
            stats[0] = decoder.hostReadStats();
            selected[0] = decoder.lastSelected();
            assertTrue(decoder.residency()[1] > decoder.residency()[0], "most blocks on the host tier");
            assertEquals(read.digest(), decoder.digestBytes() > 0, "digests held exactly in digest mode");
            return g;
        }
    }

    @Test
    void digestReadingAtLeastEveryHostBlock_equalsExactMode() {
        float[][] exactLogits = new float[1][];
        float[][] digestLogits = new float[1][];
        HostReadStats[] stats = new HostReadStats[1];
        int[][][] selected = new int[1][][];
        GenerationResult exact = decode(HostRead.EXACT, exactLogits, stats, selected);
        int[][] exactSelected = selected[0];
        GenerationResult digest = decode(HostRead.digest(1_000), digestLogits, stats, selected);
        assertArrayEquals(exact.tokens(), digest.tokens(), "greedy tokens");
        // The blocks' order in a part follows the tiers' copies, whose completion times vary: float sums may round apart.
        double diff = DecoderFixture.maxAbsDiff(exactLogits[0], digestLogits[0]);
        assertTrue(diff <= LOGIT_TOLERANCE, "last-step logits differ by " + diff);
        assertEquals(exactSelected.length, selected[0].length, "layers observed");
        assertTrue(stats[0].blocksExact() > 0, "host blocks were there to read");
        assertEquals(stats[0].blocksExact(), stats[0].blocksRead(), "every host block read");
    }

    @Test
    void digestReadingOneBlock_readsOneHostBlockPerLayerAndStep_andStillObservesAttention() {
        HostReadStats[] stats = new HostReadStats[1];
        int[][][] selected = new int[1][][];
        GenerationResult g = decode(HostRead.digest(1), new float[1][], stats, selected);
        int layers = selected[0].length;
        assertEquals(NEW_TOKENS, g.tokens().length, "tokens generated");
        assertEquals(NEW_TOKENS - 1, stats[0].steps(), "decode steps counted (every step but the one after prefill)");
        assertEquals(stats[0].steps() * layers, stats[0].blocksRead(), "one host block per layer and step");
        assertTrue(stats[0].blocksExact() > 2 * stats[0].blocksRead(), "an exact read would read more: " + stats[0].blocksExact());
        assertTrue(stats[0].fraction() < 0.5, "host read fraction " + stats[0].fraction());
        for (int l = 0; l < layers; l++) {
            assertTrue(selected[0][l].length > 0, "layer " + l + ": the popularity top-k observed the last step");
        }
    }

    @Test
    void perHeadSketchReadingEverySlice_equalsExactMode() {
        float[][] exactLogits = new float[1][];
        float[][] digestLogits = new float[1][];
        HostReadStats[] stats = new HostReadStats[1];
        GenerationResult exact = decode(HostRead.EXACT, exactLogits, stats, new int[1][][]);
        // every slice a candidate, every candidate read whole: the sketch, the exact scores and the head mask all run
        GenerationResult digest = decode(HostRead.parse("digest:bits=4,sketch=2,select=head,slices=1000,keys=1001"), digestLogits, stats,
                new int[1][][]);
        assertArrayEquals(exact.tokens(), digest.tokens(), "greedy tokens");
        double diff = DecoderFixture.maxAbsDiff(exactLogits[0], digestLogits[0]);
        assertTrue(diff <= LOGIT_TOLERANCE, "last-step logits differ by " + diff);
        assertEquals(stats[0].blocksExact(), stats[0].blocksRead(), 1e-9, "every host slice read");
    }

    /**
     * Plain {@code digest} (4-bit boxes with a 2-bit sketch, per-head slices, the 12 candidates' keys scored exactly, 8 read)
     * with the digests taken out of the device budget as {@code eval} takes them: the libtorch {@code TieredDecoder}'s
     * tokens and host reads, step for step (the same scores, {@code DigestMirror} being {@code BlockDigests} to the bit, and
     * the same choice, {@code HeadSlices}).
     */
    @Test
    void plainDigest_generatesTheLibtorchTieredDecodersTokens_readingTenHeadSlicesPerLayerAndStep() {
        int[] prompt = DecoderFixture.load().cases().get(1).prompt();
        HostRead read = HostRead.DEFAULT;
        GenerationResult reference;
        HostReadStats cpuStats;
        try (LlamaWeights w = LlamaCheckpoint.load(BundledModel.directory());
             TieredSession s = new TieredSession(w, Policies.create(POLICY), prompt.length, 0.25, BLOCK, NEW_TOKENS, 0,
                     Double.POSITIVE_INFINITY, read)) {
            reference = s.generate(prompt, NEW_TOKENS, PrefillMode.PAPER, 128, Sampler.greedy(), -1, null, null);
            cpuStats = s.decoder().hostReads();
        }
        int tokens = prompt.length + NEW_TOKENS;
        try (CudaDecoder decoder = CudaDecoder.load(BundledModel.directory(), tokens, BLOCK, null, HostStepDevice::new,
                KvStores.tiered(Backend.CPU, Math.max(1, prompt.length / 4 / BLOCK), () -> Policies.create(POLICY), read))) {
            int layers = decoder.config().layers();
            DeviceBudget budget = decoder.withDigests(DeviceBudget.of(0.25, prompt.length, BLOCK, layers), tokens);
            decoder.reset(budget.context(layers, prompt.length), budget.blocks(), budget.hostBlocks(Double.POSITIVE_INFINITY));
            GenerationResult g = decoder.generate(prompt, NEW_TOKENS, -1, null);
            HostReadStats stats = decoder.hostReadStats();
            assertArrayEquals(reference.tokens(), g.tokens(), "greedy tokens of the libtorch tiered decoder, same digests and budget");
            // 12 candidate slices scored (their keys: half a slice's bytes), the 8 best read whole: 10 slices = 2.5 blocks of 4 KV heads
            assertEquals(stats.steps() * layers * 2.5, stats.blocksRead(), 1, "blocks read");
            assertEquals(cpuStats.blocksRead(), stats.blocksRead(), "host blocks read, libtorch vs CUDA decoder");
            assertTrue(stats.fraction() < 0.5, "host read fraction " + stats.fraction());
            assertTrue(decoder.digestBytes() > 0, "digests held");
        }
    }
}

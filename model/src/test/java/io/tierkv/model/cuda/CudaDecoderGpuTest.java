package io.tierkv.model.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.tierkv.core.memory.MemoryLedger;
import io.tierkv.cuda.driver.Backend;
import io.tierkv.cuda.driver.BackendSelection;
import io.tierkv.model.BundledModel;
import io.tierkv.model.generate.GenerationResult;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The CUDA decoder end to end on the bundled model against the libtorch CPU decoder's {@link DecoderFixture}: the same
 * greedy tokens on three of the demo's prompts, and last-step logits within {@link DecoderFixture#GPU_LOGIT_TOLERANCE}
 * (absolute). Block sizes 16 (the default) and 7 (the prompt's blocks end mid-row, and many blocks per sequence); and
 * tiered through tiering's CUDA tiers at a quarter of the prompt on the device (the host-tier blocks read by the same
 * kernel over mapped pinned memory, merged by log-sum-exp).
 * Torch-free: the GPU check bundle runs it.
 */
@Tag("gpu")
class CudaDecoderGpuTest {
    @BeforeEach
    void needsGpu() {
        BackendSelection s = BackendSelection.probe("auto");
        assumeTrue(s.backend() == Backend.CUDA, () -> "no usable GPU: " + s.reason());
    }

    @ParameterizedTest(name = "blockSize={0}")
    @ValueSource(ints = {16, 7})
    void greedyDecoding_onTheDemoPrompts_equalsTheCpuDecoder(int blockSize) {
        DecoderFixture fixture = DecoderFixture.load();
        int longest = fixture.cases().stream().mapToInt(c -> c.prompt().length).max().orElseThrow();
        MemoryLedger.Snapshot before = MemoryLedger.snapshot();
        try (CudaDecoder decoder = CudaDecoder.load(BundledModel.directory(), longest + DecoderFixture.NEW_TOKENS, blockSize, null)) {
            for (DecoderFixture.Case want : fixture.cases()) {
                GenerationResult g = decoder.generate(want.prompt(), DecoderFixture.NEW_TOKENS, -1, null);
                double diff = DecoderFixture.maxAbsDiff(want.lastLogits(), decoder.logits());
                assertArrayEquals(want.tokens(), g.tokens(), want.name() + ": greedy tokens (last-step logits differ by " + diff + ")");
                assertTrue(diff <= DecoderFixture.GPU_LOGIT_TOLERANCE, want.name() + ": last-step logits differ by " + diff
                        + " (tolerance " + DecoderFixture.GPU_LOGIT_TOLERANCE + ")");
                assertEquals(want.prompt().length + DecoderFixture.NEW_TOKENS - 1, decoder.position(), "tokens in the cache");
            }
        }
        before.assertNoLeaks(); // every device and pinned byte is released on close
    }

    @ParameterizedTest(name = "prefillRows={0}")
    @ValueSource(ints = {1, 5, 64})
    void promptsPrefilledInChunksOfGemms_equalTheCpuDecoder(int prefillRows) {
        DecoderFixture fixture = DecoderFixture.load();
        int longest = fixture.cases().stream().mapToInt(c -> c.prompt().length).max().orElseThrow();
        MemoryLedger.Snapshot before = MemoryLedger.snapshot();
        try (CudaDecoder decoder = CudaDecoder.load(BundledModel.directory(), longest + DecoderFixture.NEW_TOKENS, 7, null,
                CudaStepDevice::new, KvStores.PAGED, true, false, prefillRows)) { // blocks of 7: chunks of 5 and 64 span blocks
            long chunked = 0;
            for (DecoderFixture.Case want : fixture.cases()) {
                GenerationResult g = decoder.generate(want.prompt(), DecoderFixture.NEW_TOKENS, -1, null);
                double diff = DecoderFixture.maxAbsDiff(want.lastLogits(), decoder.logits());
                assertArrayEquals(want.tokens(), g.tokens(), want.name() + ": greedy tokens (last-step logits differ by " + diff + ")");
                assertTrue(diff <= DecoderFixture.GPU_LOGIT_TOLERANCE, want.name() + ": last-step logits differ by " + diff);
                chunked += want.prompt().length;
            }
            if (prefillRows == 1) {
                assertEquals(0, decoder.chunkedPrefillTokens());
            } else {
                assertTrue(decoder.chunkedPrefillTokens() >= chunked - fixture.cases().size(), decoder.chunkedPrefillTokens() + " of "
                        + chunked + " prompt tokens in chunks");
            }
        }
        before.assertNoLeaks();
    }

    @ParameterizedTest(name = "blockSize={0}")
    @ValueSource(ints = {16, 7})
    void stepsReplayedFromCapturedCudaGraphs_equalTheCpuDecoder(int blockSize) {
        DecoderFixture fixture = DecoderFixture.load();
        int longest = fixture.cases().stream().mapToInt(c -> c.prompt().length).max().orElseThrow();
        MemoryLedger.Snapshot before = MemoryLedger.snapshot();
        try (CudaDecoder decoder = CudaDecoder.load(BundledModel.directory(), longest + DecoderFixture.NEW_TOKENS, blockSize, null,
                CudaStepDevice::new, KvStores.PAGED, true, true)) {
            for (DecoderFixture.Case want : fixture.cases()) {
                GenerationResult g = decoder.generate(want.prompt(), DecoderFixture.NEW_TOKENS, -1, null);
                assertTrue(decoder.cudaGraphs(), "the driver refused the capture (stderr says why)");
                double diff = DecoderFixture.maxAbsDiff(want.lastLogits(), decoder.logits());
                assertArrayEquals(want.tokens(), g.tokens(), want.name() + ": greedy tokens (last-step logits differ by " + diff + ")");
                assertTrue(diff <= DecoderFixture.GPU_LOGIT_TOLERANCE, want.name() + ": last-step logits differ by " + diff);
            }
            assertTrue(decoder.graphCaptures() > 0 && decoder.graphLaunches() > decoder.graphCaptures(),
                    decoder.graphCaptures() + " captures, " + decoder.graphLaunches() + " launches");
        }
        before.assertNoLeaks();
    }

    @ParameterizedTest(name = "host read {0}")
    @ValueSource(strings = {"exact", "digest"})
    void tieredStepsReplayedFromCapturedCudaGraphs_equalTheStepsRunLaunchByLaunch(String spec) {
        io.tierkv.model.generate.HostRead read = io.tierkv.model.generate.HostRead.parse(spec);
        DecoderFixture.Case want = DecoderFixture.load().cases().get(1);
        int maxTokens = want.prompt().length + DecoderFixture.NEW_TOKENS;
        int perLayer = Math.max(2, want.prompt().length / 4 / 16);
        MemoryLedger.Snapshot before = MemoryLedger.snapshot();
        int[][] tokens = new int[2][];
        float[][] logits = new float[2][];
        for (int run = 0; run < 2; run++) {
            boolean graphs = run == 1;
            try (CudaDecoder d = CudaDecoder.load(BundledModel.directory(), maxTokens, 16, null, CudaStepDevice::new,
                    KvStores.tiered(Backend.CUDA, perLayer, () -> io.tierkv.core.policy.Policies.create("hierarchical"), read), true, graphs)) {
                tokens[run] = d.generate(want.prompt(), DecoderFixture.NEW_TOKENS, -1, null).tokens();
                logits[run] = d.logits();
                if (graphs) {
                    assertTrue(d.cudaGraphs(), "the driver refused the capture (stderr says why)");
                    assertTrue(d.graphLaunches() > d.graphCaptures() && d.graphCaptures() > 0,
                            d.graphCaptures() + " captures, " + d.graphLaunches() + " launches");
                }
            }
        }
        assertArrayEquals(tokens[0], tokens[1], "the same tokens replayed");
        double diff = DecoderFixture.maxAbsDiff(logits[0], logits[1]);
        assertTrue(diff <= DecoderFixture.GPU_LOGIT_TOLERANCE, "replayed logits differ by " + diff);
        before.assertNoLeaks();
    }

    @ParameterizedTest(name = "blockSize={0}")
    @ValueSource(ints = {16})
    void tieredAtAQuarterOfThePrompt_hostBlocksReadOverMappedPinnedMemory_equalsTheCpuDecoder(int blockSize) {
        DecoderFixture.Case want = DecoderFixture.load().cases().get(1);
        int perLayer = Math.max(1, want.prompt().length / 4 / blockSize);
        MemoryLedger.Snapshot before = MemoryLedger.snapshot();
        try (CudaDecoder decoder = CudaDecoder.loadTiered(BundledModel.directory(), want.prompt().length + DecoderFixture.NEW_TOKENS,
                blockSize, perLayer)) {
            GenerationResult g = decoder.generate(want.prompt(), DecoderFixture.NEW_TOKENS, -1, null);
            int[] residency = decoder.residency();
            double diff = DecoderFixture.maxAbsDiff(want.lastLogits(), decoder.logits());
            assertArrayEquals(want.tokens(), g.tokens(), want.name() + ": greedy tokens (logits differ by " + diff + ")");
            assertTrue(diff <= DecoderFixture.GPU_LOGIT_TOLERANCE, want.name() + ": last-step logits differ by " + diff);
            assertTrue(residency[1] > 2 * residency[0], "most blocks on the host tier: " + residency[0] + " device, " + residency[1] + " host");
            assertTrue(decoder.tierStats().d2hBytes() > 0, "blocks were demoted");
        }
        before.assertNoLeaks();
    }

    @ParameterizedTest(name = "blockSize={0}")
    @ValueSource(ints = {16})
    void evictingTheFirstPromptTokens_changesTheLogits_andResetForgetsTheMask(int blockSize) {
        DecoderFixture.Case want = DecoderFixture.load().cases().get(0);
        try (CudaDecoder decoder = CudaDecoder.load(BundledModel.directory(), want.prompt().length + 1, blockSize, null)) {
            decoder.prefill(java.util.Arrays.copyOf(want.prompt(), want.prompt().length - 1));
            for (int p = 0; p < 64; p++) {
                decoder.evict(p);
            }
            decoder.step(want.prompt()[want.prompt().length - 1]);
            float[] masked = decoder.logits();
            decoder.reset();
            decoder.prefill(want.prompt());
            float[] full = decoder.logits();
            assertTrue(DecoderFixture.maxAbsDiff(masked, full) > 10 * DecoderFixture.GPU_LOGIT_TOLERANCE,
                    "64 evicted prompt tokens must change the next logits");
            assertNotEquals(0, DecoderFixture.margin(full));
        }
    }
}

package io.tierkv.model.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.model.BundledModel;
import io.tierkv.model.generate.GenerationResult;
import org.junit.jupiter.api.Test;

/**
 * {@link CudaDecoder}'s orchestration (weight upload, step layout, block table and slab addressing, RoPE tables, the
 * order of the operations, residuals, the evict mask) on {@link HostStepDevice}, whose kernels are cuda-kernels' Java
 * oracles, against the CPU decoder's {@link DecoderFixture}: the same greedy tokens and last-step logits within the
 * tolerance the GPU test uses. What this cannot see is the CUDA kernels and the JCuda calls; their own gpu tests and
 * {@code CudaDecoderGpuTest} do. Runs on every build.
 */
class HostDecoderFixtureTest {
    @Test
    void hostMirrorOfTheDeviceDecoder_onTheDemoPrompts_equalsTheCpuDecoder() {
        DecoderFixture fixture = DecoderFixture.load();
        for (int c = 0; c < fixture.cases().size(); c++) {
            DecoderFixture.Case want = fixture.cases().get(c);
            int blockSize = c == 0 ? 7 : 16; // one case with blocks that end mid-prompt, many of them
            try (CudaDecoder decoder = CudaDecoder.load(BundledModel.directory(), want.prompt().length + DecoderFixture.NEW_TOKENS, blockSize,
                    null, HostStepDevice::new, KvStores.PAGED)) {
                GenerationResult g = decoder.generate(want.prompt(), DecoderFixture.NEW_TOKENS, -1, null);
                double diff = DecoderFixture.maxAbsDiff(want.lastLogits(), decoder.logits());
                assertArrayEquals(want.tokens(), g.tokens(), want.name() + ": greedy tokens (last-step logits differ by " + diff + ")");
                assertTrue(diff <= DecoderFixture.GPU_LOGIT_TOLERANCE, want.name() + ": last-step logits differ by " + diff);
                assertEquals(want.prompt().length + DecoderFixture.NEW_TOKENS - 1, decoder.position());
            }
        }
    }

    @Test
    void evictedTokens_leaveTheAttention_andResetForgetsThem() {
        DecoderFixture.Case want = DecoderFixture.load().cases().get(0);
        int[] prompt = java.util.Arrays.copyOf(want.prompt(), 40);
        try (CudaDecoder decoder = CudaDecoder.load(BundledModel.directory(), 64, 16, null, HostStepDevice::new, KvStores.PAGED)) {
            decoder.prefill(prompt);
            float[] full = decoder.logits();
            decoder.reset();
            decoder.prefill(java.util.Arrays.copyOf(prompt, 39));
            for (int p = 0; p < 20; p++) {
                decoder.evict(p);
            }
            decoder.step(prompt[39]);
            float[] masked = decoder.logits();
            assertTrue(DecoderFixture.maxAbsDiff(full, masked) > 10 * DecoderFixture.GPU_LOGIT_TOLERANCE, "20 evicted tokens change the logits");
            decoder.reset();
            decoder.prefill(prompt);
            assertArrayEquals(full, decoder.logits(), "after reset the mask is clear");
        }
    }
}

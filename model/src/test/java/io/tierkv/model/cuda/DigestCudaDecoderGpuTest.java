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
import io.tierkv.model.generate.HostRead;
import io.tierkv.model.generate.HostReadStats;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Digest host reads in the CUDA decoder on the GPU ({@link CudaStepDevice}: {@code CudaBlockDigests} update and bound,
 * sparse host part over mapped pinned memory) against the host mirror ({@link HostStepDevice}: {@code DigestMirror}) that
 * {@code DigestHostDecoderTest} holds to exact mode: the bundled model decoded tiered with {@code hierarchical} at 25% of
 * the prompt on the device tier, {@code digest:blocks=2} (Quest's bfloat16 boxes, whole blocks) and plain {@code digest}
 * (sketch digests, per-head slices, exact scores of the candidates): the same greedy tokens, the same host blocks read and
 * the same digest bytes. Not yet run on hardware.
 */
@Tag("gpu")
class DigestCudaDecoderGpuTest {
    @BeforeEach
    void needsGpu() {
        BackendSelection s = BackendSelection.probe("auto");
        assumeTrue(s.backend() == Backend.CUDA, () -> "no usable GPU: " + s.reason());
    }

    @Test
    void digestTieredAtAQuarter_onTheGpu_equalsTheHostMirror() {
        gpuEqualsMirror(HostRead.digest(2));
    }

    /** Plain {@code digest}: 4-bit boxes with a 2-bit sketch, per-head slices, the candidates' keys scored exactly on the device. */
    @Test
    void sketchDigestPerHead_onTheGpu_equalsTheHostMirror() {
        gpuEqualsMirror(HostRead.DEFAULT);
    }

    private static void gpuEqualsMirror(HostRead read) {
        int[] prompt = DecoderFixture.load().cases().get(1).prompt();
        int n = DigestHostDecoderTest.NEW_TOKENS;
        int block = DigestHostDecoderTest.BLOCK;
        int perLayer = Math.max(1, prompt.length / 4 / block);
        int[][] tokens = new int[2][];
        HostReadStats[] stats = new HostReadStats[2];
        long[] digestBytes = new long[2];
        MemoryLedger.Snapshot before = MemoryLedger.snapshot();
        for (int d = 0; d < 2; d++) {
            try (CudaDecoder decoder = CudaDecoder.load(BundledModel.directory(), prompt.length + n, block, DType.F32,
                    d == 0 ? HostStepDevice::new : CudaStepDevice::new, KvStores.tiered(d == 0 ? Backend.CPU : Backend.CUDA, perLayer,
                            () -> Policies.create(DigestHostDecoderTest.POLICY), read))) {
                tokens[d] = decoder.generate(prompt, n, -1, null).tokens();
                stats[d] = decoder.hostReadStats();
                digestBytes[d] = decoder.digestBytes();
            }
        }
        before.assertNoLeaks();
        assertArrayEquals(tokens[0], tokens[1], "greedy tokens, GPU vs host mirror");
        assertEquals(stats[0].blocksRead(), stats[1].blocksRead(), "host blocks read");
        assertEquals(stats[0].blocksExact(), stats[1].blocksExact(), "host blocks an exact read reads");
        assertTrue(stats[1].fraction() < 1, "the GPU read fewer host blocks than exact: " + stats[1].fraction());
        assertEquals(digestBytes[0], digestBytes[1], "digest bytes");
    }
}

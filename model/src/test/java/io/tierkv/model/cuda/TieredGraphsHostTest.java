package io.tierkv.model.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.core.memory.MemoryLedger;
import io.tierkv.core.policy.Policies;
import io.tierkv.cuda.driver.Backend;
import io.tierkv.model.BundledModel;
import io.tierkv.model.generate.GenerationResult;
import io.tierkv.model.generate.HostRead;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Tiered decode steps replayed from captured graphs ({@code -Dtierkv.cudaGraphs}) on the host mirror, whose capture records
 * the kernels and runs nothing, and whose launch runs them again reading memory as it is then: the tables, digest indexes
 * and step values the host uploads before each step must be all a replayed step needs, and the host-side counts a replay
 * skips must be made up ({@code replayed}). Held to the same decoder launch by launch: the same tokens, logits bit for bit,
 * the same blocks moved and the same host blocks read, under {@code hierarchical} (the popularity top-k every step) with
 * exact and with per-head digest host reads.
 */
class TieredGraphsHostTest {
    private static CudaDecoder tiered(int maxTokens, int perLayer, HostRead read, boolean graphs) {
        return CudaDecoder.load(BundledModel.directory(), maxTokens, 16, null, HostStepDevice::new,
                KvStores.tiered(Backend.CPU, perLayer, () -> Policies.create("hierarchical"), read), true, graphs);
    }

    @ParameterizedTest(name = "host read {0}")
    @ValueSource(strings = {"exact", "digest"})
    void replayedTieredSteps_equalTheStepsRunLaunchByLaunch(String spec) {
        HostRead read = HostRead.parse(spec);
        DecoderFixture.Case want = DecoderFixture.load().cases().get(1);
        int maxTokens = want.prompt().length + DecoderFixture.NEW_TOKENS;
        int perLayer = Math.max(2, want.prompt().length / 4 / 16);
        MemoryLedger.Snapshot before = MemoryLedger.snapshot();
        GenerationResult eager;
        float[] logits;
        long[] moved;
        long[] reads;
        try (CudaDecoder d = tiered(maxTokens, perLayer, read, false)) {
            eager = d.generate(want.prompt(), DecoderFixture.NEW_TOKENS, -1, null);
            logits = d.logits();
            moved = new long[] {d.tierStats().d2hBytes(), d.tierStats().h2dBytes()};
            reads = new long[] {d.hostReadStats().blocksRead(), d.hostReadStats().blocksExact()};
        }
        try (CudaDecoder d = tiered(maxTokens, perLayer, read, true)) {
            assertTrue(d.cudaGraphs(), "the tiered store's steps are capturable");
            GenerationResult g = d.generate(want.prompt(), DecoderFixture.NEW_TOKENS, -1, null);
            assertArrayEquals(eager.tokens(), g.tokens(), "the same tokens");
            if (!read.digest()) { // a sparse read is not the dense attention the fixture holds
                assertArrayEquals(want.tokens(), g.tokens(), "the CPU decoder's tokens");
            }
            assertArrayEquals(logits, d.logits(), "the last step's logits, bit for bit");
            assertArrayEquals(moved, new long[] {d.tierStats().d2hBytes(), d.tierStats().h2dBytes()}, "the same blocks moved");
            assertArrayEquals(reads, new long[] {d.hostReadStats().blocksRead(), d.hostReadStats().blocksExact()}, "the same host reads");
            assertTrue(d.graphCaptures() > 0, "steps were captured");
            assertTrue(d.graphLaunches() > 2L * d.graphCaptures(), d.graphLaunches() + " replays of " + d.graphCaptures() + " graphs");
        }
        before.assertNoLeaks();
    }

    /**
     * A capture the driver refuses (here after the step's work was recorded, as at the end of a capture) turns graphs off and
     * runs the step launch by launch: the host-side counts the refused capture made are not made twice. With every block on
     * the device (no host block to read) and with most of them on the host.
     */
    @ParameterizedTest(name = "{0} device blocks per layer")
    @ValueSource(ints = {2, 64})
    void aRefusedCapture_decodesLaunchByLaunch_countingEachStepOnce(int perLayer) {
        HostRead read = HostRead.parse("digest");
        DecoderFixture.Case want = DecoderFixture.load().cases().get(1);
        int maxTokens = want.prompt().length + DecoderFixture.NEW_TOKENS;
        MemoryLedger.Snapshot before = MemoryLedger.snapshot();
        GenerationResult eager;
        long[] reads;
        try (CudaDecoder d = tiered(maxTokens, perLayer, read, false)) {
            eager = d.generate(want.prompt(), DecoderFixture.NEW_TOKENS, -1, null);
            reads = new long[] {d.hostReadStats().steps(), d.hostReadStats().blocksRead(), d.hostReadStats().blocksExact()};
        }
        try (CudaDecoder d = CudaDecoder.load(BundledModel.directory(), maxTokens, 16, null, () -> refusingCaptures(new HostStepDevice()),
                KvStores.tiered(Backend.CPU, perLayer, () -> Policies.create("hierarchical"), read), true, true)) {
            GenerationResult g = d.generate(want.prompt(), DecoderFixture.NEW_TOKENS, -1, null);
            assertArrayEquals(eager.tokens(), g.tokens(), "the same tokens");
            assertFalse(d.cudaGraphs(), "graphs are off after the refusal");
            assertEquals(0, d.graphCaptures());
            assertArrayEquals(reads, new long[] {d.hostReadStats().steps(), d.hostReadStats().blocksRead(), d.hostReadStats().blocksExact()},
                    "steps counted, host blocks read, host blocks an exact read reads");
        }
        before.assertNoLeaks();
    }

    /** {@code device}, whose captures record the step and are then refused, as a driver refuses at the end of a capture. */
    private static StepDevice refusingCaptures(StepDevice device) {
        return (StepDevice) Proxy.newProxyInstance(StepDevice.class.getClassLoader(), new Class<?>[] {StepDevice.class},
                (proxy, method, args) -> {
                    if (method.getName().equals("capture")) {
                        device.capture((Runnable) args[0]).close();
                        throw new IllegalStateException("operation not permitted when stream is capturing (refused by the test)");
                    }
                    try {
                        return method.invoke(device, args);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
    }

    @Test
    void theHostTierAttendedOnTheCpu_decodesLaunchByLaunch() {
        DecoderFixture.Case want = DecoderFixture.load().cases().get(1);
        try (CudaDecoder d = CudaDecoder.load(BundledModel.directory(), want.prompt().length + DecoderFixture.NEW_TOKENS, 16, null,
                HostStepDevice::new, KvStores.tiered(Backend.CPU, 2, () -> Policies.create("hierarchical"), HostRead.EXACT, HostAttention.CPU),
                true, true)) {
            GenerationResult g = d.generate(want.prompt(), DecoderFixture.NEW_TOKENS, -1, null);
            assertArrayEquals(want.tokens(), g.tokens(), "the CPU decoder's tokens");
            assertEquals(0, d.graphCaptures(), "a step that reads the query back mid-layer is never captured");
        }
    }
}

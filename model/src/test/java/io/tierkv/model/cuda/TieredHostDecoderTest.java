package io.tierkv.model.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.core.DType;
import io.tierkv.core.memory.MemoryLedger;
import io.tierkv.core.policy.Policies;
import io.tierkv.cuda.driver.Backend;
import io.tierkv.cuda.ops.PagedKvShape;
import io.tierkv.model.BundledModel;
import io.tierkv.model.generate.GenerationResult;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import org.junit.jupiter.api.Test;

/**
 * {@link CudaDecoder} with its KV cache in tiering's tiers ({@link TieredKvStore}, CPU tiers, {@link HostStepDevice}):
 * at 25% of the prompt on the device tier, most blocks are demoted to the host tier and attended there as a second part
 * merged by log-sum-exp, and the greedy tokens and logits still equal the CPU decoder's fixture. The GPU twin is in
 * {@code CudaDecoderGpuTest}.
 */
class TieredHostDecoderTest {
    @Test
    void tieredAtAQuarterOfThePrompt_demotesMostBlocks_andEqualsTheCpuDecoder() {
        DecoderFixture.Case want = DecoderFixture.load().cases().get(1);
        int perLayer = Math.max(1, want.prompt().length / 4 / 16);
        MemoryLedger.Snapshot before = MemoryLedger.snapshot();
        try (CudaDecoder decoder = CudaDecoder.load(BundledModel.directory(), want.prompt().length + DecoderFixture.NEW_TOKENS, 16, null,
                HostStepDevice::new, KvStores.tiered(Backend.CPU, perLayer))) {
            GenerationResult g = decoder.generate(want.prompt(), DecoderFixture.NEW_TOKENS, -1, null);
            int[] residency = decoder.residency();
            double diff = DecoderFixture.maxAbsDiff(want.lastLogits(), decoder.logits());
            assertArrayEquals(want.tokens(), g.tokens(), want.name() + ": greedy tokens (logits differ by " + diff + ")");
            assertTrue(diff <= DecoderFixture.GPU_LOGIT_TOLERANCE, want.name() + ": last-step logits differ by " + diff);
            assertTrue(residency[0] <= perLayer * decoder.config().layers(), "device tier within its budget: " + residency[0]);
            assertTrue(residency[1] > 2 * residency[0], "most blocks on the host tier: " + residency[0] + " device, " + residency[1] + " host");
            assertTrue(decoder.tierStats().d2hBytes() > 0, "blocks were demoted");
        }
        before.assertNoLeaks();
    }

    /** 80 layers x 64 heads x 110k tokens of attention rows (a 70B model's) pass 2 GiB: refused by name before any allocation. */
    @Test
    void attentionRowsPastTwoGiB_areRefusedWithTheirSizes() {
        MemoryLedger.Snapshot before = MemoryLedger.snapshot();
        try (HostStepDevice device = new HostStepDevice()) {
            PagedKvShape shape = new PagedKvShape(DType.BF16, 64, 8, 128, 16, 2L * 16 * 8 * 128 * 2);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TieredKvStore.open(device, shape, 80,
                    110_000, Backend.CPU, 4, () -> Policies.create("hierarchical")));
            assertTrue(e.getMessage().contains("80 layers x 64 heads x 110000 tokens") && e.getMessage().contains("maxTokens"),
                    e.getMessage());
            assertEquals(0, device.allocatedBytes(), "nothing allocated");
        }
        before.assertNoLeaks();
    }

    /**
     * A kernel's fault leaves a CUDA context's error sticky: every later wait throws it. The decoder's close still frees the
     * tiers and the device (the ledger is back where it was) and throws the wait's error.
     */
    @Test
    void closeAfterAStickyFault_freesTheTiersAndTheDevice_andThrowsTheFault() {
        MemoryLedger.Snapshot before = MemoryLedger.snapshot();
        boolean[] faulted = {false};
        boolean[] deviceClosed = {false};
        HostStepDevice[] mirror = new HostStepDevice[1];
        java.util.function.Supplier<StepDevice> faulty = () -> {
            mirror[0] = new HostStepDevice();
            return (StepDevice) Proxy.newProxyInstance(StepDevice.class.getClassLoader(), new Class<?>[] {StepDevice.class},
                    (proxy, method, args) -> {
                        if (faulted[0] && method.getName().equals("synchronize")) {
                            throw new IllegalStateException("CUDA_ERROR_ILLEGAL_ADDRESS (sticky)");
                        }
                        deviceClosed[0] |= method.getName().equals("close");
                        try {
                            return method.invoke(mirror[0], args);
                        } catch (InvocationTargetException e) {
                            throw e.getCause();
                        }
                    });
        };
        CudaDecoder decoder = CudaDecoder.load(BundledModel.directory(), 96, 16, null, faulty, KvStores.tiered(Backend.CPU, 2));
        decoder.generate(java.util.stream.IntStream.range(0, 70).map(i -> 1 + 7 * i % 90).toArray(), 8, -1, null);
        assertTrue(decoder.tierStats().d2hBytes() > 0, "blocks went to the host tier");
        faulted[0] = true;
        IllegalStateException e = assertThrows(IllegalStateException.class, decoder::close);
        assertTrue(e.getMessage().contains("sticky"), e.getMessage());
        assertTrue(deviceClosed[0], "the device was closed");
        before.assertNoLeaks();
    }

    /**
     * A step cut short by an exception (a launch refused, an argument check) leaves its earlier kernels queued on a GPU: the
     * decoder waits for them before the exception reaches the caller, whose next call may start copies of the block they
     * write. The mirror runs every launch at once, so the test holds the order of the calls: the wait comes after the throw.
     */
    @Test
    void aStepCutShortByAnException_waitsForItsQueuedKernels_beforeThrowing() {
        java.util.List<String> calls = new java.util.ArrayList<>();
        int[] attendsLeft = {-1};
        java.util.function.Supplier<StepDevice> failing = () -> {
            HostStepDevice mirror = new HostStepDevice();
            return (StepDevice) Proxy.newProxyInstance(StepDevice.class.getClassLoader(), new Class<?>[] {StepDevice.class},
                    (proxy, method, args) -> {
                        calls.add(method.getName());
                        if (method.getName().equals("attendParts") && attendsLeft[0] >= 0 && attendsLeft[0]-- == 0) {
                            throw new IllegalStateException("launch refused");
                        }
                        try {
                            return method.invoke(mirror, args);
                        } catch (InvocationTargetException e) {
                            throw e.getCause();
                        }
                    });
        };
        try (CudaDecoder decoder = CudaDecoder.load(BundledModel.directory(), 96, 16, null, failing, KvStores.tiered(Backend.CPU, 2))) {
            int next = decoder.prefill(java.util.stream.IntStream.range(0, 40).map(i -> 1 + 7 * i % 90).toArray());
            calls.clear();
            attendsLeft[0] = 1; // the second layer's attention
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> decoder.advance(next));
            assertEquals("launch refused", e.getMessage());
            int thrown = calls.lastIndexOf("attendParts");
            assertTrue(calls.subList(thrown + 1, calls.size()).contains("synchronize"), "no wait after the throw: " + calls);
        }
    }

    /**
     * The prompt rows that only seed the placement (all of them for {@code hierarchical}, which observes no prompt row)
     * have their top-k selected on the device: no read back in a hierarchical generation is larger than the top-k's
     * {@code layers x (k + 1)} ints (a prior row read back whole was {@code layers x heads x maxTokens} floats).
     */
    @Test
    void priorRows_comeBackAsTheirTopK_notAsWholeRows() {
        int[] largest = {0};
        java.util.function.Supplier<StepDevice> recording = () -> {
            HostStepDevice mirror = new HostStepDevice();
            return (StepDevice) Proxy.newProxyInstance(StepDevice.class.getClassLoader(), new Class<?>[] {StepDevice.class},
                    (proxy, method, args) -> {
                        if (method.getName().equals("download")) {
                            largest[0] = Math.max(largest[0], ((java.nio.ByteBuffer) args[1]).remaining());
                        }
                        try {
                            return method.invoke(mirror, args);
                        } catch (InvocationTargetException e) {
                            throw e.getCause();
                        }
                    });
        };
        int[] prompt = java.util.stream.IntStream.range(0, 70).map(i -> 1 + 7 * i % 90).toArray();
        try (CudaDecoder decoder = CudaDecoder.load(BundledModel.directory(), 96, 16, null, recording,
                KvStores.tiered(Backend.CPU, 2, () -> Policies.create("hierarchical")))) {
            decoder.generate(prompt, 8, -1, null);
            int layers = decoder.config().layers();
            assertTrue(decoder.tierStats().d2hBytes() > 0, "blocks went to the host tier");
            assertTrue(largest[0] <= 4 * layers * (io.tierkv.tiering.TierDefaults.REQUEST_TOP_K + 1),
                    "largest read back " + largest[0] + " bytes");
        }
    }
}

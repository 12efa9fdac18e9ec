package io.tierkv.model.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.core.policy.Policies;
import io.tierkv.cuda.driver.Backend;
import io.tierkv.model.BundledModel;
import io.tierkv.model.generate.HostRead;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * How often a decode step makes the host wait for the device: a read back ({@link StepDevice#download}) that follows queued
 * work waits for all of it; one that follows another read back finds the device idle and costs only the copy. A tiered
 * {@code hierarchical} step reads back its token, its popularity top-k (observed steps) and its per-head digest choices'
 * counts: queued in the right order that is one wait per step, the GPU never idle while the host runs the policy between
 * two halves of a step. Counted on the host mirror through a {@link RecordingDevice}.
 */
class StepWaitsHostTest {
    static final String POLICY = "hierarchical:window=8";
    static final int NEW_TOKENS = 24;
    static final int BLOCK = 16;

    /** Per decode step, the read backs that waited (the waits before the first generated token are the prompt's). */
    static final class StepWaits {
        final RecordingDevice device = new RecordingDevice();
        final List<Integer> perStep = new ArrayList<>();
        private boolean started;

        void token(int id) {
            int waits = device.takeWaits();
            if (started) {
                perStep.add(waits);
            }
            started = true;
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"exact", "digest"})
    void aTieredHierarchicalStep_waitsForTheDeviceOnce(String read) {
        int[] prompt = DecoderFixture.load().cases().get(1).prompt();
        int perLayer = Math.max(1, prompt.length / 4 / BLOCK);
        StepWaits counter = new StepWaits();
        Supplier<StepDevice> devices = () -> counter.device.wrap(new HostStepDevice());
        try (CudaDecoder decoder = CudaDecoder.load(BundledModel.directory(), prompt.length + NEW_TOKENS, BLOCK, null, devices,
                KvStores.tiered(Backend.CPU, perLayer, () -> Policies.create(POLICY), HostRead.parse(read)))) {
            decoder.generate(prompt, NEW_TOKENS, -1, counter::token);
            assertTrue(decoder.residency()[1] > 0, "blocks on the host tier");
        }
        assertEquals(NEW_TOKENS - 1, counter.perStep.size(), "decode steps counted");
        for (int t = 0; t < counter.perStep.size(); t++) {
            assertEquals(1, counter.perStep.get(t), "waits for the device in decode step " + t + " (" + read + " host reads)");
        }
    }

    /**
     * {@link CudaDecoder#stepPhases()}: with a device whose every wait takes 3 ms, each decode step's device wait holds those
     * 3 ms and the other phases (the host's own work, the mirror's kernels run inside the launches) do not; the steps counted
     * are the generated tokens after the first.
     */
    @ParameterizedTest
    @ValueSource(strings = {"exact", "digest"})
    void stepPhases_putTheDevicesWaitInTheWait_andTheHostsWorkElsewhere(String read) {
        int[] prompt = DecoderFixture.load().cases().get(1).prompt();
        int perLayer = Math.max(1, prompt.length / 4 / BLOCK);
        int slow = 3;
        RecordingDevice recording = new RecordingDevice().slowWaits(slow);
        Supplier<StepDevice> devices = () -> recording.wrap(new HostStepDevice());
        try (CudaDecoder decoder = CudaDecoder.load(BundledModel.directory(), prompt.length + NEW_TOKENS, BLOCK, null, devices,
                KvStores.tiered(Backend.CPU, perLayer, () -> Policies.create(POLICY), HostRead.parse(read)))) {
            decoder.generate(prompt, NEW_TOKENS, -1, null);
            StepPhases phases = decoder.stepPhases();
            assertEquals(NEW_TOKENS - 1, phases.steps(), "decode steps timed");
            double wait = phases.micros(StepPhases.Phase.DEVICE_WAIT);
            assertTrue(wait >= slow * 1000, "each step's one wait (" + slow + " ms) is in the device wait: " + phases);
            assertTrue(phases.micros(StepPhases.Phase.OBSERVE) < slow * 1000, "the observation holds no wait: " + phases);
            assertTrue(phases.micros(StepPhases.Phase.STEP) < slow * 1000, "the store's step holds no wait: " + phases);
            assertTrue(phases.micros(StepPhases.Phase.APPEND) > 0 && phases.micros(StepPhases.Phase.LAUNCH) > 0, phases.toString());
        }
    }
}

package io.tierkv.model.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.core.memory.MemoryLedger;
import io.tierkv.model.BundledModel;
import io.tierkv.model.generate.DeviceBudget;
import io.tierkv.model.generate.GenerationResult;
import io.tierkv.model.generate.HostRead;
import io.tierkv.model.generate.PrefillMode;
import io.tierkv.model.generate.Sampler;
import io.tierkv.model.generate.TieredSession;
import io.tierkv.model.llama.LlamaCheckpoint;
import io.tierkv.model.llama.LlamaWeights;
import io.tierkv.core.policy.Policies;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link CudaDecoder#reset(io.tierkv.core.policy.PolicyContext, int, int)} and chunked prefill on the host mirror: every
 * policy that evicts at a budget keeps what it keeps on the CPU's {@link TieredSession} at the same {@link DeviceBudget},
 * in paper and in chunked mode, and generates the same tokens: {@code streaming} (sinks and a recent window of the
 * budget's tokens), {@code snapkv} (the prompt's last rows), {@code h2o} (whole attention rows every step) and the paper's
 * {@code hierarchical} in drop mode (its windows shortened so that several close), whose evicted tokens are masked.
 */
class BudgetedHostDecoderTest {
    private static final int NEW_TOKENS = 12;
    private static final int BLOCK = 16;

    @ParameterizedTest
    @ValueSource(strings = {"streaming", "snapkv", "h2o", "hierarchical:mode=drop,window=4"})
    void atAQuarter_keepsAndGeneratesAsTheCpu_inBothModes(String policy) {
        keepsAndGeneratesAsTheCpu(policy, true);
    }

    /**
     * The test above, on the host mirror against the CPU, or on GPU 0 against the host mirror ({@link
     * BudgetedCudaDecoderGpuTest}: the GPU check's bundle has no libtorch, and the mirror is held to the CPU here).
     */
    static void keepsAndGeneratesAsTheCpu(String policy, boolean hostMirror) {
        int[] prompt = DecoderFixture.load().cases().get(1).prompt();
        MemoryLedger.Snapshot before = MemoryLedger.snapshot();
        for (PrefillMode mode : PrefillMode.values()) {
            Run expected = hostMirror ? cpuRun(policy, prompt, mode) : cudaRun(policy, prompt, mode, true);
            Run actual = cudaRun(policy, prompt, mode, hostMirror);
            assertEquals(expected.kept(), actual.kept(), policy + " " + mode + ": tokens kept per layer");
            assertTrue(actual.kept() < prompt.length, policy + " " + mode + ": the policy evicted");
            assertArrayEquals(expected.tokens(), actual.tokens(), policy + " " + mode + ": greedy tokens");
        }
        before.assertNoLeaks();
    }

    /** Greedy tokens and what a run kept per layer (tokens) or freed for the host budget (blocks). */
    private record Run(int[] tokens, long kept) {}

    private static Run cpuRun(String policy, int[] prompt, PrefillMode mode) {
        boolean chunked = mode == PrefillMode.CHUNKED;
        try (LlamaWeights w = LlamaCheckpoint.load(BundledModel.directory());
             TieredSession s = new TieredSession(w, Policies.create(policy), prompt.length, 0.25, BLOCK, NEW_TOKENS, chunked ? 1 : 0)) {
            GenerationResult g = s.generate(prompt, NEW_TOKENS, mode, 1, Sampler.greedy(), -1, null, null);
            return new Run(g.tokens(), s.sequence().keptTokens());
        }
    }

    private static Run cudaRun(String policy, int[] prompt, PrefillMode mode, boolean hostMirror) {
        int p = prompt.length;
        try (CudaDecoder d = CudaDecoder.loadTiered(BundledModel.directory(), p + NEW_TOKENS, BLOCK, 8, policy, null,
                HostRead.EXACT, hostMirror)) {
            int layers = d.config().layers();
            DeviceBudget budget = DeviceBudget.of(0.25, p, BLOCK, layers);
            d.reset(budget.context(layers, p), budget.blocks(), Integer.MAX_VALUE);
            GenerationResult g = d.generate(prompt, NEW_TOKENS, -1, null, null, mode == PrefillMode.CHUNKED);
            return new Run(g.tokens(), d.sequence().keptTokens());
        }
    }

    /**
     * Paper mode with the host tier bounded at the device budget: the CPU computes the prompt densely and then frees what
     * the host has no room for; the CUDA decoder computes it through the tiers, which hold the host budget until the
     * prompt's end ({@code Sequence.holdHostBudgetUntilEndPrefill}), so every prompt row attends every earlier token there
     * too, and the same blocks are freed.
     */
    @ParameterizedTest
    @ValueSource(strings = {"hierarchical", "h2o"})
    void paperMode_boundedHost_freesAndGeneratesAsTheCpu(String policy) {
        boundedHostFreesAndGeneratesAsTheCpu(policy, true);
    }

    /** The test above, on the host mirror against the CPU, or on GPU 0 against the host mirror. */
    static void boundedHostFreesAndGeneratesAsTheCpu(String policy, boolean hostMirror) {
        int[] prompt = DecoderFixture.load().cases().get(1).prompt();
        MemoryLedger.Snapshot before = MemoryLedger.snapshot();
        Run expected = hostMirror ? cpuBoundedRun(policy, prompt) : cudaBoundedRun(policy, prompt, true);
        Run actual = cudaBoundedRun(policy, prompt, hostMirror);
        assertTrue(expected.kept() > 0, policy + ": the reference's host budget freed blocks");
        assertEquals(expected.kept(), actual.kept(), policy + ": blocks freed for the host budget");
        assertArrayEquals(expected.tokens(), actual.tokens(), policy + ": greedy tokens");
        before.assertNoLeaks();
    }

    private static Run cpuBoundedRun(String policy, int[] prompt) {
        try (LlamaWeights w = LlamaCheckpoint.load(BundledModel.directory());
             TieredSession s = new TieredSession(w, Policies.create(policy), prompt.length, 0.25, BLOCK, NEW_TOKENS, 0, 1.0)) {
            GenerationResult g = s.generate(prompt, NEW_TOKENS, PrefillMode.PAPER, 1, Sampler.greedy(), -1, null, null);
            return new Run(g.tokens(), s.tiers().stats().droppedBlocks());
        }
    }

    private static Run cudaBoundedRun(String policy, int[] prompt, boolean hostMirror) {
        int p = prompt.length;
        try (CudaDecoder d = CudaDecoder.loadTiered(BundledModel.directory(), p + NEW_TOKENS, BLOCK, 8, policy, null, HostRead.EXACT,
                hostMirror)) {
            int layers = d.config().layers();
            DeviceBudget budget = DeviceBudget.of(0.25, p, BLOCK, layers);
            d.reset(budget.context(layers, p), budget.blocks(), budget.hostBlocks(1.0));
            GenerationResult g = d.generate(prompt, NEW_TOKENS, -1, null, null, false);
            return new Run(g.tokens(), d.tierStats().droppedBlocks());
        }
    }

    @Test
    void digestReads_takeTheSameShareOfTheBudget_asOnTheCpu() {
        int[] prompt = DecoderFixture.load().cases().get(1).prompt();
        int p = prompt.length;
        HostRead read = HostRead.digest(2);
        try (LlamaWeights w = LlamaCheckpoint.load(BundledModel.directory());
             TieredSession s = new TieredSession(w, Policies.create("hierarchical"), p, 0.25, BLOCK, NEW_TOKENS, 0,
                     Double.POSITIVE_INFINITY, read);
             CudaDecoder d = CudaDecoder.loadTiered(BundledModel.directory(), p + NEW_TOKENS, BLOCK, 8, "hierarchical", null, read, true)) {
            int layers = d.config().layers();
            DeviceBudget base = DeviceBudget.of(0.25, p, BLOCK, layers);
            DeviceBudget charged = d.withDigests(base, p + NEW_TOKENS);
            assertTrue(charged.digestBytes() > 0 && charged.blocks() < base.blocks(), "the digests took device slots: " + charged);
            assertEquals(s.digestReserveBytes(), charged.digestBytes(), "digest bytes");
            assertEquals(s.deviceBlocks(), charged.blocks(), "KV blocks left");
            assertEquals(s.budgetTokens(), charged.tokens(), "the policy's tokens per layer");
        }
    }
}

package io.tierkv.model.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.model.BundledModel;
import io.tierkv.model.generate.GenerationResult;
import io.tierkv.model.llama.LlamaConfig;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * The decoder's fused step ({@code normGemvRope}, {@code normSwiGlu}, {@code normGemv}: the norms folded into the GEMVs, RoPE,
 * the KV append and SiLU into their epilogues) on the host mirror: the CPU decoder's tokens and logits as the unfused step gives them,
 * and the kernel launches per decode step each path issues, counted at the {@link StepDevice} seam (every call below is one
 * kernel launch on the GPU).
 */
class FusedKernelsHostTest {
    /** StepDevice calls that are one kernel launch each on the GPU. */
    static final Set<String> KERNELS = Set.of("embed", "embedAt", "embedRows", "rmsNorm", "gemv", "gemm", "rope", "appendRows", "attend", "attendLive", "attendRows", "merge",
            "probs", "add", "siluMul", "argmax", "normGemv", "normGemvRope", "normGemvRopeAt", "normSwiGlu", "digestUpdate", "digestScore",
            "digestExact", "headSlices", "headSlicesExact");

    /** A host device that counts its kernel calls by name. */
    static StepDevice counting(Map<String, Integer> calls) {
        StepDevice host = new HostStepDevice();
        return (StepDevice) Proxy.newProxyInstance(StepDevice.class.getClassLoader(), new Class<?>[] {StepDevice.class}, (proxy, m, args) -> {
            if (KERNELS.contains(m.getName())) {
                calls.merge(m.getName(), 1, Integer::sum);
            }
            try {
                return m.invoke(host, args);
            } catch (InvocationTargetException e) {
                throw e.getCause();
            }
        });
    }

    @Test
    void fusedAndUnfusedSteps_bothGiveTheCpuDecodersTokens_theFusedOneWithFiveLaunchesPerLayerFewer() {
        DecoderFixture.Case want = DecoderFixture.load().cases().get(1);
        LlamaConfig c = LlamaConfig.readDir(BundledModel.directory());
        int maxTokens = want.prompt().length + DecoderFixture.NEW_TOKENS;
        int[] perStep = new int[2];
        for (boolean fused : new boolean[] {true, false}) {
            Map<String, Integer> calls = new TreeMap<>();
            try (CudaDecoder decoder = CudaDecoder.load(BundledModel.directory(), maxTokens, 16, null, () -> counting(calls), KvStores.PAGED,
                    fused, false, 1)) { // the prompt token by token: every call below is a step's
                assertEquals(fused, decoder.fusedKernels());
                GenerationResult g = decoder.generate(want.prompt(), DecoderFixture.NEW_TOKENS, -1, null);
                double diff = DecoderFixture.maxAbsDiff(want.lastLogits(), decoder.logits());
                String what = (fused ? "fused" : "unfused") + " " + calls;
                assertArrayEquals(want.tokens(), g.tokens(), what + ": greedy tokens (last-step logits differ by " + diff + ")");
                assertTrue(diff <= DecoderFixture.GPU_LOGIT_TOLERANCE, what + ": last-step logits differ by " + diff);
                int steps = maxTokens - 1; // the prompt token by token, then every generated token but the last
                int total = calls.values().stream().mapToInt(Integer::intValue).sum();
                assertEquals(0, total % steps, what + ": the same launches every step");
                perStep[fused ? 0 : 1] = total / steps;
                if (fused) {
                    assertEquals(steps * c.layers(), calls.get("normGemvRope"), what);
                    assertEquals(steps * c.layers(), calls.get("normSwiGlu"), what);
                    assertEquals(steps, calls.get("normGemv"), what);
                    assertFalse(calls.containsKey("rmsNorm") || calls.containsKey("rope") || calls.containsKey("siluMul")
                            || calls.containsKey("append"), what);
                }
            }
        }
        // embed; per layer: q/k/v with RoPE and the KV append, attend, wo, gate/up with SiLU, down; LM head, argmax
        assertEquals(1 + 5 * c.layers() + 2, perStep[0], "fused launches per step");
        // per layer also two norms, RoPE, the append and SiLU; one more norm before the LM head
        assertEquals(perStep[0] + 5 * c.layers() + 1, perStep[1], "unfused launches per step");
    }
}

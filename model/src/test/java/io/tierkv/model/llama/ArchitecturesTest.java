package io.tierkv.model.llama;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.tierkv.core.DType;
import io.tierkv.core.policy.KvPolicy;
import io.tierkv.core.policy.Policies;
import io.tierkv.model.generate.PrefillMode;
import io.tierkv.model.generate.Sampler;
import io.tierkv.model.generate.TieredSession;
import io.tierkv.model.llama.LlamaConfig.Architecture;
import java.nio.file.Files;
import java.nio.file.Path;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Mistral and Qwen2 checkpoints, and 16-bit weights kept 16-bit. */
class ArchitecturesTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int[] IDS = {1, 7, 3, 9, 12, 5, 44, 2, 30, 17};

    @TempDir
    Path dir;

    static LlamaConfig qwen2() {
        LlamaConfig t = TestModels.tiny();
        return new LlamaConfig(t.hiddenSize(), t.intermediateSize(), t.layers(), t.heads(), t.kvHeads(), t.headDim(), t.vocabSize(),
                t.maxPositions(), t.rmsNormEps(), 1e6, null, true, 1, 2, Architecture.QWEN2, true, 0);
    }

    private static float[] logits(LlamaWeights w) {
        return Tensors.toFloats(new LlamaForward(w).logits(Tensors.fromInts(IDS, 1, IDS.length)));
    }

    @Test
    void linear_biasedWeight_addsTheBias() {
        Tensor w = torch.randn(new long[] {5, 3}, Tensors.floatOptions());
        Tensor b = torch.randn(new long[] {5}, Tensors.floatOptions());
        Tensor x = torch.randn(new long[] {2, 3}, Tensors.floatOptions());
        float[] expected = Tensors.toFloats(x.matmul(w.t()).add(b));
        float[] got = Tensors.toFloats(Tensors.linear(x, new BiasedWeight(w, b)));
        float[] row = Tensors.toFloats(Tensors.linear(x.select(0, 1), new BiasedWeight(w, b)));
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], got[i], 1e-5f, "element " + i);
        }
        for (int i = 0; i < 5; i++) {
            assertEquals(expected[5 + i], row[i], 1e-5f, "single row element " + i);
        }
    }

    @Test
    void linear_16BitWeights_oneRowAndManyRows_matchFloatMathOnTheRoundedWeights() {
        Tensor w = torch.randn(new long[] {24, 16}, Tensors.floatOptions());
        Tensor x = torch.randn(new long[] {3, 16}, Tensors.floatOptions());
        for (torch.ScalarType type : new torch.ScalarType[] {torch.ScalarType.BFloat16, torch.ScalarType.Half}) {
            Tensor low = w.to(type);
            float[] expected = Tensors.toFloats(x.matmul(low.to(torch.ScalarType.Float).t()));
            float[] rows = Tensors.toFloats(Tensors.linear(x, low));
            float[] one = Tensors.toFloats(Tensors.linear(x.select(0, 2), low));
            assertEquals(torch.ScalarType.Float, Tensors.dtype(Tensors.linear(x, low)));
            // activations rounded to the weight's 8 (bf16) or 11 (f16) bits of mantissa; sums of 16 products
            float tolerance = type == torch.ScalarType.BFloat16 ? 0.1f : 0.01f;
            for (int i = 0; i < expected.length; i++) {
                assertEquals(expected[i], rows[i], tolerance, type + " element " + i);
            }
            for (int i = 0; i < 24; i++) {
                assertEquals(expected[48 + i], one[i], tolerance, type + " single row element " + i);
            }
        }
    }

    @Test
    void qwen2_roundTrip_keepsBiasesAndTheirEffect() throws Exception {
        Path d = Files.createDirectory(dir.resolve("qwen2"));
        float[] expected;
        float[] withoutBias;
        try (LlamaWeights w = TestModels.write(d, qwen2(), 5, DType.F32)) {
            expected = logits(w);
            w.named().forEach((name, t) -> {
                if (name.endsWith(".bias")) {
                    t.zero_();
                }
            });
            withoutBias = logits(w);
        }
        assertEquals("Qwen2ForCausalLM", JSON.readTree(d.resolve("config.json").toFile()).get("architectures").get(0).asText());
        try (LlamaWeights loaded = LlamaCheckpoint.load(d)) {
            assertInstanceOf(BiasedWeight.class, loaded.wq[0]);
            assertEquals(Architecture.QWEN2, loaded.config.architecture());
            float[] got = logits(loaded);
            double biasEffect = 0;
            for (int i = 0; i < got.length; i++) {
                assertEquals(expected[i], got[i], 0f, "logit " + i);
                biasEffect = Math.max(biasEffect, Math.abs(expected[i] - withoutBias[i]));
            }
            assertTrue(biasEffect > 1e-3, "the biases change the logits by " + biasEffect);
        }
    }

    @Test
    void bf16Checkpoint_staysBf16AndTheTieredDecoderAgreesWithTheDenseOne() throws Exception {
        Path d = Files.createDirectory(dir.resolve("bf16"));
        TestModels.write(d, qwen2(), 9, DType.BF16).close();
        try (LlamaWeights w = LlamaCheckpoint.load(d)) {
            assertEquals(torch.ScalarType.BFloat16, Tensors.dtype(w.wq[0]));
            assertEquals(torch.ScalarType.BFloat16, Tensors.dtype(w.embed));
            assertEquals(torch.ScalarType.Float, Tensors.dtype(w.attnNorm[0]));
            float[] dense = logits(w);
            KvPolicy full = Policies.create("full");
            try (TieredSession s = new TieredSession(w, full, IDS.length, 1.0, 4, 1, 0)) {
                float[] tiered = s.decoder().prefillDense(s.sequence(), full, IDS);
                int v = w.config.vocabSize();
                for (int i = 0; i < v; i++) {
                    assertEquals(dense[(IDS.length - 1) * v + i], tiered[i], 1e-3f, "logit " + i);
                }
            }
        }
    }

    @Test
    void config_mistralWindow_isReadAndQwen2sUnusedWindowIsNot() throws Exception {
        String common = "\"hidden_size\": 32, \"intermediate_size\": 64, \"num_hidden_layers\": 2, \"num_attention_heads\": 4,"
                + " \"vocab_size\": 50, \"sliding_window\": 4096";
        LlamaConfig mistral = LlamaConfig.parse(JSON.readTree("{\"architectures\": [\"MistralForCausalLM\"], " + common + "}"));
        LlamaConfig qwen = LlamaConfig.parse(JSON.readTree("{\"architectures\": [\"Qwen2ForCausalLM\"], " + common
                + ", \"use_sliding_window\": false}"));
        LlamaConfig mistralV2 = LlamaConfig.parse(JSON.readTree("{\"architectures\": [\"MistralForCausalLM\"], "
                + common.replace("4096", "null") + "}"));
        assertEquals(4096, mistral.slidingWindow());
        assertEquals(0, qwen.slidingWindow());
        assertTrue(qwen.attentionBias());
        assertEquals(0, mistralV2.slidingWindow());
    }

    @Test
    void config_unknownArchitecture_namesTheSupportedOnes() throws Exception {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LlamaConfig.parse(
                JSON.readTree("{\"architectures\": [\"GPT2LMHeadModel\"], \"hidden_size\": 32}")));
        assertTrue(e.getMessage().contains("MistralForCausalLM, Qwen2ForCausalLM"), e.getMessage());
    }

    @Test
    void generate_promptBeyondTheSlidingWindow_isRefused() {
        LlamaConfig t = TestModels.tiny();
        LlamaConfig windowed = new LlamaConfig(t.hiddenSize(), t.intermediateSize(), t.layers(), t.heads(), t.kvHeads(), t.headDim(),
                t.vocabSize(), t.maxPositions(), t.rmsNormEps(), t.ropeTheta(), null, false, 1, 2, Architecture.MISTRAL, false, 12);
        KvPolicy full = Policies.create("full");
        try (LlamaWeights w = LlamaWeights.random(windowed, 3, 0.1, false);
             TieredSession s = new TieredSession(w, full, IDS.length, 1.0, 4, 8, 0)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> s.generate(IDS, 8, PrefillMode.PAPER, 4, Sampler.greedy(), -1, null, null));
            assertTrue(e.getMessage().contains("sliding window of 12 tokens"), e.getMessage());
            assertEquals(2, s.generate(IDS, 2, PrefillMode.PAPER, 4, Sampler.greedy(), -1, null, null).tokens().length);
        }
    }
}

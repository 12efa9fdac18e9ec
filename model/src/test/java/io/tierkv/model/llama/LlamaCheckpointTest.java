package io.tierkv.model.llama;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.core.DType;
import java.nio.file.Files;
import java.nio.file.Path;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LlamaCheckpointTest {
    @TempDir
    Path dir;

    private static final int[] IDS = {1, 7, 3, 9, 12, 5, 44, 2, 30, 17};

    private static float[] logits(LlamaWeights w) {
        Tensor ids = Tensors.fromInts(IDS, 1, IDS.length);
        return Tensors.toFloats(new LlamaForward(w).logits(ids));
    }

    @Test
    void load_f32Checkpoint_givesTheSameLogitsAsTheWeightsSaved() throws Exception {
        Path d = Files.createDirectory(dir.resolve("f32"));
        float[] expected;
        try (LlamaWeights w = TestModels.write(d, TestModels.tiny(), 7, DType.F32)) {
            expected = logits(w);
        }
        try (LlamaWeights loaded = LlamaCheckpoint.load(d)) {
            float[] got = logits(loaded);
            for (int i = 0; i < got.length; i++) {
                assertEquals(expected[i], got[i], 0f, "logit " + i);
            }
        }
    }

    @Test
    void load_bf16AndSharded_agreeWithTheirF32Twin() throws Exception {
        Path f32 = Files.createDirectory(dir.resolve("twin32"));
        Path bf16 = Files.createDirectory(dir.resolve("twin16"));
        Path sharded = Files.createDirectory(dir.resolve("sharded"));
        float[] expected;
        try (LlamaWeights w = TestModels.write(f32, TestModels.tiny(), 11, DType.F32)) {
            expected = logits(w);
            LlamaCheckpoint.save(bf16, w, DType.BF16);
            TestModels.writeSharded(sharded, w);
        }
        try (LlamaWeights s = LlamaCheckpoint.load(sharded); LlamaWeights b = LlamaCheckpoint.load(bf16)) {
            float[] fromShards = logits(s);
            float[] fromBf16 = logits(b);
            double maxBf16 = 0;
            for (int i = 0; i < expected.length; i++) {
                assertEquals(expected[i], fromShards[i], 0f, "sharded logit " + i);
                maxBf16 = Math.max(maxBf16, Math.abs(expected[i] - fromBf16[i]));
            }
            // bf16 keeps 8 bits of mantissa: weights are off by up to 2^-9 relative; logits here are O(1).
            assertTrue(maxBf16 < 0.05, "bf16 twin differs by " + maxBf16);
            assertTrue(maxBf16 > 0, "bf16 rounding should change something");
        }
    }

    @Test
    void load_configThatDisagreesWithWeights_namesTensorAndShapes() throws Exception {
        Path d = Files.createDirectory(dir.resolve("mismatch"));
        TestModels.write(d, TestModels.tiny(), 3, DType.F32).close();
        LlamaConfig c = TestModels.tiny();
        new LlamaConfig(c.hiddenSize(), c.intermediateSize() * 2, c.layers(), c.heads(), c.kvHeads(), c.headDim(),
                c.vocabSize(), c.maxPositions(), c.rmsNormEps(), c.ropeTheta(), null, false, 1, 2)
                .write(d.resolve("config.json"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LlamaCheckpoint.load(d));
        assertTrue(e.getMessage().contains("mlp.gate_proj.weight") && e.getMessage().contains("implies"), e.getMessage());
    }

    @Test
    void load_missingTensor_namesIt() throws Exception {
        Path d = Files.createDirectory(dir.resolve("missing"));
        TestModels.write(d, TestModels.tiny(), 3, DType.F32).close();
        LlamaConfig c = TestModels.tiny();
        new LlamaConfig(c.hiddenSize(), c.intermediateSize(), c.layers() + 1, c.heads(), c.kvHeads(), c.headDim(),
                c.vocabSize(), c.maxPositions(), c.rmsNormEps(), c.ropeTheta(), null, false, 1, 2)
                .write(d.resolve("config.json"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LlamaCheckpoint.load(d));
        assertTrue(e.getMessage().contains("model.layers.2.") && e.getMessage().contains("missing"), e.getMessage());
    }

    @Test
    void load_corruptSafetensors_isAOneLineErrorNamingTheFile() throws Exception {
        Path d = Files.createDirectory(dir.resolve("corrupt"));
        TestModels.write(d, TestModels.tiny(), 3, DType.F32).close();
        Path file = d.resolve(LlamaCheckpoint.SINGLE);
        byte[] bytes = Files.readAllBytes(file);
        Files.write(file, java.util.Arrays.copyOf(bytes, bytes.length / 2));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LlamaCheckpoint.load(d));
        assertTrue(e.getMessage().contains("model.safetensors") && !e.getMessage().contains("\n"), e.getMessage());
    }

    @Test
    void readDir_withoutConfig_saysWhatIsExpected(@TempDir Path empty) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LlamaCheckpoint.load(empty));
        assertTrue(e.getMessage().contains("no config.json"), e.getMessage());
    }
}

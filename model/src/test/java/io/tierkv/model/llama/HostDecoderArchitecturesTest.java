package io.tierkv.model.llama;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.core.DType;
import io.tierkv.model.cuda.CudaDecoder;
import io.tierkv.model.cuda.DecoderFixture;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The CUDA decoder's orchestration on the host mirror ({@link CudaDecoder#loadOnHost}) against the libtorch dense forward
 * pass on what the bundled model lacks: grouped-query attention, Qwen2's q/k/v biases, Llama's o_proj bias, llama3 RoPE
 * scaling and an untied lm_head (random F32 checkpoints). Bound: 1e-4 absolute on logits of order 0.1 to 1.
 */
class HostDecoderArchitecturesTest {
    static final double BOUND = 1e-4;

    /** Qwen2: GQA 8/2, q/k/v biases, untied; Llama: GQA 6/3, attention_bias (o_proj too), llama3 scaling. */
    static LlamaConfig config(String name) {
        return switch (name) {
            case "qwen2" -> new LlamaConfig(256, 512, 2, 8, 2, 32, 300, 128, 1e-6, 1_000_000.0, null, false, 1, 2,
                    LlamaConfig.Architecture.QWEN2, true, 0);
            case "llama" -> new LlamaConfig(192, 384, 2, 6, 3, 32, 260, 128, 1e-5, 500_000.0,
                    new LlamaConfig.RopeScaling(8, 1, 4, 32), false, 1, 2, LlamaConfig.Architecture.LLAMA, true, 0);
            default -> throw new IllegalArgumentException(name);
        };
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"qwen2", "llama"})
    void hostMirror_equalsTheDenseForward_onGqaBiasesScalingAndUntiedHead(String name, @TempDir Path dir) {
        LlamaConfig c = config(name);
        RandomCheckpoint.write(dir, c, DType.F32, 5);
        int[] ids = new SplittableRandom(9).ints(45, 3, c.vocabSize()).toArray();
        float[] want;
        try (LlamaWeights w = LlamaCheckpoint.load(dir); Tensor t = Tensors.fromInts(ids, 1, ids.length);
             Tensor logits = new LlamaForward(w).logits(t)) {
            want = Tensors.toFloats(logits.select(1, ids.length - 1).contiguous().view(-1));
        }
        try (CudaDecoder d = CudaDecoder.loadOnHost(dir, ids.length, 16, null)) {
            d.prefill(ids);
            double diff = DecoderFixture.maxAbsDiff(want, d.logits());
            assertTrue(diff <= BOUND, name + ": last logits differ by " + diff);
        }
    }
}

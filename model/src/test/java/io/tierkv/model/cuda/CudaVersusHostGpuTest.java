package io.tierkv.model.cuda;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.tierkv.core.DType;
import io.tierkv.cuda.driver.Backend;
import io.tierkv.cuda.driver.BackendSelection;
import io.tierkv.model.llama.LlamaConfig;
import io.tierkv.model.llama.RandomCheckpoint;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The CUDA decoder against its host mirror ({@link CudaDecoder#loadOnHost}: the same orchestration with cuda-kernels'
 * Java oracles as kernels, itself held to libtorch by {@code HostDecoderArchitecturesTest}) on random checkpoints with
 * what the bundled model lacks: grouped-query attention, Qwen2's q/k/v biases, Llama's o_proj bias, llama3 RoPE scaling,
 * an untied lm_head, and 16-bit weights with a 16-bit KV cache. Last-step logits after a 45-token prefill (logits of order
 * 0.1 to 1): within 1e-4 absolute in F32; within 2e-3 in BF16/F16, where a K/V element rounded the other way (device and
 * host accumulate in different orders) moves a logit by far less than that.
 */
@Tag("gpu")
class CudaVersusHostGpuTest {
    @BeforeEach
    void needsGpu() {
        BackendSelection s = BackendSelection.probe("auto");
        assumeTrue(s.backend() == Backend.CUDA, () -> "no usable GPU: " + s.reason());
    }

    static LlamaConfig config(String name) {
        return switch (name) {
            case "qwen2" -> new LlamaConfig(256, 512, 2, 8, 2, 32, 300, 128, 1e-6, 1_000_000.0, null, false, 1, 2,
                    LlamaConfig.Architecture.QWEN2, true, 0);
            case "llama" -> new LlamaConfig(192, 384, 2, 6, 3, 32, 260, 128, 1e-5, 500_000.0,
                    new LlamaConfig.RopeScaling(8, 1, 4, 32), false, 1, 2, LlamaConfig.Architecture.LLAMA, true, 0);
            default -> throw new IllegalArgumentException(name);
        };
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({"qwen2,F32", "qwen2,BF16", "qwen2,F16", "llama,F32", "llama,BF16"})
    void deviceDecoder_equalsItsHostMirror(String name, DType dtype, @TempDir Path dir) {
        LlamaConfig c = config(name);
        RandomCheckpoint.write(dir, c, dtype, 5);
        int[] ids = new SplittableRandom(9).ints(45, 3, c.vocabSize()).toArray();
        float[] host;
        try (CudaDecoder d = CudaDecoder.loadOnHost(dir, ids.length, 16, null)) {
            d.prefill(ids);
            host = d.logits();
        }
        try (CudaDecoder d = CudaDecoder.load(dir, ids.length, 16, null)) {
            d.prefill(ids);
            double diff = DecoderFixture.maxAbsDiff(host, d.logits());
            double bound = dtype == DType.F32 ? 1e-4 : 2e-3;
            assertTrue(diff <= bound, name + " " + dtype + ": last logits differ from the host mirror's by " + diff + " (bound " + bound + ")");
        }
    }
}

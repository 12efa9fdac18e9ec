package io.tierkv.model.llama;

import io.tierkv.core.DType;
import io.tierkv.model.io.SafeTensorsWriter;
import java.nio.file.Path;
import java.util.Map;
import org.bytedeco.pytorch.Tensor;

/** Small random checkpoints in the Hugging Face layout, written by the tests themselves. */
public final class TestModels {
    private TestModels() {
    }

    /** A tiny GQA config: 2 layers, D=32, 4 heads over 2 kv heads, V=50. */
    public static LlamaConfig tiny() {
        return new LlamaConfig(32, 64, 2, 4, 2, 8, 50, 512, 1e-5, 10000.0, null, false, 1, 2);
    }

    /** Random weights (std 0.1, so attention is not uniform) saved as {@code dtype} in {@code dir}. */
    public static LlamaWeights write(Path dir, LlamaConfig config, long seed, DType dtype) {
        LlamaWeights w = LlamaWeights.random(config, seed, 0.1, false);
        LlamaCheckpoint.save(dir, w, dtype);
        return w;
    }

    /** Writes the same weights as two shards with an index. */
    public static void writeSharded(Path dir, LlamaWeights w) {
        w.config.write(dir.resolve("config.json"));
        SafeTensorsWriter a = new SafeTensorsWriter();
        SafeTensorsWriter b = new SafeTensorsWriter();
        StringBuilder index = new StringBuilder("{\"metadata\":{},\"weight_map\":{");
        int i = 0;
        for (Map.Entry<String, Tensor> e : w.named().entrySet()) {
            boolean first = i++ % 2 == 0;
            (first ? a : b).add(e.getKey(), Tensors.toFloats(e.getValue()), Tensors.shape(e.getValue()), DType.F32);
            index.append(i > 1 ? "," : "").append('"').append(e.getKey()).append("\":\"")
                    .append(first ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors").append('"');
        }
        index.append("}}");
        a.write(dir.resolve("model-00001-of-00002.safetensors"));
        b.write(dir.resolve("model-00002-of-00002.safetensors"));
        try {
            java.nio.file.Files.writeString(dir.resolve(LlamaCheckpoint.INDEX), index.toString());
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}

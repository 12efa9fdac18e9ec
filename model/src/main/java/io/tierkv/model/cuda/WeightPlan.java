package io.tierkv.model.cuda;

import io.tierkv.core.DType;
import io.tierkv.model.io.SafeTensorsFile;
import io.tierkv.model.llama.CheckpointFiles;
import io.tierkv.model.llama.LlamaConfig;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Which tensors the device decoder uploads, from which file, in which dtype and how many bytes: checked against the
 * shapes {@code config.json} implies before any device memory is taken. Torch-free, like everything in this package.
 *
 * @param config  the model's config
 * @param tensors by checkpoint name, in {@link CheckpointFiles#expectedShapes} order
 */
record WeightPlan(LlamaConfig config, Map<String, Entry> tensors) {
    /** One tensor: its file and where it lies there. */
    record Entry(Path file, SafeTensorsFile.TensorInfo info) {
        long bytes() {
            return info.end() - info.begin();
        }

        DType dtype() {
            return info.dtype();
        }
    }

    /** Reads the directory's headers and checks every expected tensor's presence and shape. */
    static WeightPlan of(Path dir, LlamaConfig config) {
        Map<String, long[]> expected = CheckpointFiles.expectedShapes(config);
        Map<String, Path> where = CheckpointFiles.locate(dir);
        Map<Path, Map<String, SafeTensorsFile.TensorInfo>> headers = new HashMap<>();
        Map<String, Entry> out = new LinkedHashMap<>();
        for (Map.Entry<String, long[]> e : expected.entrySet()) {
            String name = e.getKey();
            Path file = where.get(name);
            if (file == null) {
                throw new IllegalArgumentException(dir + ": tensor '" + name + "' is missing from the checkpoint");
            }
            SafeTensorsFile.TensorInfo info = headers.computeIfAbsent(file, WeightPlan::header).get(name);
            if (info == null) {
                throw new IllegalArgumentException(file + ": tensor '" + name + "' is listed in the index but not in the file");
            }
            if (!Arrays.equals(info.shape(), e.getValue())) {
                throw new IllegalArgumentException(file + ": tensor '" + name + "' has shape " + Arrays.toString(info.shape())
                        + " but config.json implies " + Arrays.toString(e.getValue()));
            }
            out.put(name, new Entry(file, info));
        }
        return new WeightPlan(config, out);
    }

    private static Map<String, SafeTensorsFile.TensorInfo> header(Path file) {
        try (SafeTensorsFile st = SafeTensorsFile.open(file)) {
            return st.tensors();
        }
    }

    /** The dtype of the model's projections (layer 0's q_proj): the KV cache's default dtype. */
    DType modelDtype() {
        return tensors.get(LayerNames.of(0).wq()).dtype();
    }

    /** Bytes of every tensor as stored (norms and biases are uploaded as fp32, so the device holds a little more). */
    long bytes() {
        return tensors.values().stream().mapToLong(Entry::bytes).sum();
    }

    /** The largest tensor, in bytes (the upload's staging size bound). */
    long largest() {
        return tensors.values().stream().mapToLong(Entry::bytes).max().orElse(0);
    }

    /** The checkpoint names of one layer's tensors. */
    record LayerNames(String attnNorm, String wq, String wk, String wv, String wo, String bq, String bk, String bv, String bo,
                      String mlpNorm, String wGate, String wUp, String wDown) {
        static LayerNames of(int layer) {
            String p = "model.layers." + layer + ".";
            String a = p + "self_attn.";
            return new LayerNames(p + "input_layernorm.weight", a + "q_proj.weight", a + "k_proj.weight", a + "v_proj.weight",
                    a + "o_proj.weight", a + "q_proj.bias", a + "k_proj.bias", a + "v_proj.bias", a + "o_proj.bias",
                    p + "post_attention_layernorm.weight", p + "mlp.gate_proj.weight", p + "mlp.up_proj.weight", p + "mlp.down_proj.weight");
        }
    }

    static final String EMBED = "model.embed_tokens.weight";
    static final String NORM = "model.norm.weight";
    static final String LM_HEAD = "lm_head.weight";
}

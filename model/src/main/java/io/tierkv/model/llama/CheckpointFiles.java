package io.tierkv.model.llama;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tierkv.model.io.SafeTensorsFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Where a checkpoint directory's tensors lie (the shard index, or the single {@code model.safetensors}), and the tensors
 * a config implies. Free of libtorch, so that the CUDA decoder loads checkpoints on hosts without its natives.
 */
public final class CheckpointFiles {
    /** The single-file checkpoint. */
    public static final String SINGLE = "model.safetensors";
    /** The shard index of a sharded checkpoint. */
    public static final String INDEX = "model.safetensors.index.json";
    private static final ObjectMapper JSON = new ObjectMapper();

    private CheckpointFiles() {
    }

    /** Which file holds each tensor: the shard index if present, else the single file. */
    public static Map<String, Path> locate(Path dir) {
        Path index = dir.resolve(INDEX);
        Map<String, Path> where = new LinkedHashMap<>();
        if (Files.isRegularFile(index)) {
            JsonNode root;
            try {
                root = JSON.readTree(index.toFile());
            } catch (IOException e) {
                throw new IllegalArgumentException(index + ": not valid JSON: " + e.getMessage());
            }
            JsonNode map = root.get("weight_map");
            if (map == null || !map.isObject()) {
                throw new IllegalArgumentException(index + ": no weight_map object");
            }
            Iterator<Map.Entry<String, JsonNode>> it = map.fields();
            while (it.hasNext()) {
                Map.Entry<String, JsonNode> e = it.next();
                Path shard = dir.resolve(e.getValue().asText());
                if (!Files.isRegularFile(shard)) {
                    throw new IllegalArgumentException(index + ": tensor '" + e.getKey() + "' is in " + e.getValue().asText()
                            + ", which does not exist");
                }
                where.put(e.getKey(), shard);
            }
            return where;
        }
        Path single = dir.resolve(SINGLE);
        if (!Files.isRegularFile(single)) {
            throw new IllegalArgumentException(dir + ": neither " + SINGLE + " nor " + INDEX + " found");
        }
        try (SafeTensorsFile st = SafeTensorsFile.open(single)) {
            for (String name : st.tensors().keySet()) {
                where.put(name, single);
            }
        }
        return where;
    }

    /** The tensor names and shapes a checkpoint of {@code config} must hold, in a stable order. */
    public static Map<String, long[]> expectedShapes(LlamaConfig c) {
        Map<String, long[]> m = new LinkedHashMap<>();
        long d = c.hiddenSize();
        long q = (long) c.heads() * c.headDim();
        long kv = (long) c.kvHeads() * c.headDim();
        m.put("model.embed_tokens.weight", new long[] {c.vocabSize(), d});
        for (int i = 0; i < c.layers(); i++) {
            String p = "model.layers." + i + ".";
            m.put(p + "input_layernorm.weight", new long[] {d});
            m.put(p + "self_attn.q_proj.weight", new long[] {q, d});
            m.put(p + "self_attn.k_proj.weight", new long[] {kv, d});
            m.put(p + "self_attn.v_proj.weight", new long[] {kv, d});
            m.put(p + "self_attn.o_proj.weight", new long[] {d, q});
            if (c.attentionBias()) {
                m.put(p + "self_attn.q_proj.bias", new long[] {q});
                m.put(p + "self_attn.k_proj.bias", new long[] {kv});
                m.put(p + "self_attn.v_proj.bias", new long[] {kv});
            }
            if (c.outputBias()) {
                m.put(p + "self_attn.o_proj.bias", new long[] {d});
            }
            m.put(p + "post_attention_layernorm.weight", new long[] {d});
            m.put(p + "mlp.gate_proj.weight", new long[] {c.intermediateSize(), d});
            m.put(p + "mlp.up_proj.weight", new long[] {c.intermediateSize(), d});
            m.put(p + "mlp.down_proj.weight", new long[] {d, c.intermediateSize()});
        }
        m.put("model.norm.weight", new long[] {d});
        if (!c.tieWordEmbeddings()) {
            m.put("lm_head.weight", new long[] {c.vocabSize(), d});
        }
        return m;
    }
}

package io.tierkv.model.llama;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tierkv.core.io.AtomicFiles;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The fields of a Hugging Face {@code config.json} that the decoder uses, for the Llama-shaped architectures
 * {@code LlamaForCausalLM}, {@code MistralForCausalLM} and {@code Qwen2ForCausalLM} ({@link Architecture}).
 *
 * @param hiddenSize        model width D
 * @param intermediateSize  SwiGLU width F
 * @param layers            number of decoder layers
 * @param heads             query heads H
 * @param kvHeads           key/value heads (grouped-query attention when smaller than H)
 * @param headDim           D / H unless the config says otherwise
 * @param vocabSize         V
 * @param maxPositions      max_position_embeddings
 * @param rmsNormEps        epsilon of RMSNorm
 * @param ropeTheta         RoPE base
 * @param ropeScaling       llama3 RoPE scaling, or null
 * @param tieWordEmbeddings whether lm_head shares the embedding matrix
 * @param bosTokenId        id of the beginning-of-sequence token
 * @param eosTokenId        id of the end-of-sequence token
 * @param architecture      which Hugging Face class the checkpoint was written for
 * @param attentionBias     whether the attention projections carry biases (Qwen2's q/k/v; Llama's
 *                          {@code attention_bias} adds o_proj's too)
 * @param slidingWindow     the attention window in tokens of a Mistral (or windowed Qwen2) model, 0 for none
 */
public record LlamaConfig(int hiddenSize, int intermediateSize, int layers, int heads, int kvHeads, int headDim,
                          int vocabSize, int maxPositions, double rmsNormEps, double ropeTheta,
                          RopeScaling ropeScaling, boolean tieWordEmbeddings, int bosTokenId, int eosTokenId,
                          Architecture architecture, boolean attentionBias, int slidingWindow) {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** A plain Llama: no biases, no sliding window. */
    public LlamaConfig(int hiddenSize, int intermediateSize, int layers, int heads, int kvHeads, int headDim,
                       int vocabSize, int maxPositions, double rmsNormEps, double ropeTheta,
                       RopeScaling ropeScaling, boolean tieWordEmbeddings, int bosTokenId, int eosTokenId) {
        this(hiddenSize, intermediateSize, layers, heads, kvHeads, headDim, vocabSize, maxPositions, rmsNormEps, ropeTheta,
                ropeScaling, tieWordEmbeddings, bosTokenId, eosTokenId, Architecture.LLAMA, false, 0);
    }

    public LlamaConfig {
        if (architecture == null) {
            throw new IllegalArgumentException("architecture is null");
        }
        if (slidingWindow < 0) {
            throw new IllegalArgumentException("config field 'sliding_window' must be >= 0, was " + slidingWindow);
        }
        positive("hidden_size", hiddenSize);
        positive("intermediate_size", intermediateSize);
        positive("num_hidden_layers", layers);
        positive("num_attention_heads", heads);
        positive("num_key_value_heads", kvHeads);
        positive("head_dim", headDim);
        positive("vocab_size", vocabSize);
        positive("max_position_embeddings", maxPositions);
        if (heads % kvHeads != 0) {
            throw new IllegalArgumentException("config field 'num_attention_heads' (" + heads + ") is not a multiple of"
                    + " 'num_key_value_heads' (" + kvHeads + ")");
        }
        if (headDim % 2 != 0) {
            throw new IllegalArgumentException("config field 'head_dim' must be even for RoPE, was " + headDim);
        }
        if (layers > MAX_LAYERS) {
            throw new IllegalArgumentException("config field 'num_hidden_layers' is " + layers + ", more than the " + MAX_LAYERS
                    + " this loader accepts");
        }
        if (!(rmsNormEps > 0) || Double.isInfinite(rmsNormEps)) {
            throw new IllegalArgumentException("config field 'rms_norm_eps' must be > 0 and finite, was " + rmsNormEps);
        }
        if (!(ropeTheta > 0) || Double.isInfinite(ropeTheta)) {
            throw new IllegalArgumentException("config field 'rope_theta' must be > 0 and finite, was " + ropeTheta);
        }
        tokenId("bos_token_id", bosTokenId, vocabSize);
        tokenId("eos_token_id", eosTokenId, vocabSize);
    }

    /** The most decoder layers a config may name (the largest public Llamas have 126): bounds what loading allocates. */
    public static final int MAX_LAYERS = 4096;

    /**
     * llama3-style RoPE frequency scaling ({@code rope_scaling} with {@code rope_type: llama3}): wavelengths
     * past {@code originalMaxPositions / lowFreqFactor} are divided by {@code factor}, those below
     * {@code originalMaxPositions / highFreqFactor} kept, the band between blended, so the factors must be
     * positive and {@code highFreqFactor > lowFreqFactor}.
     */
    public record RopeScaling(double factor, double lowFreqFactor, double highFreqFactor, int originalMaxPositions) {
        public RopeScaling {
            finitePositive("rope_scaling.factor", factor);
            finitePositive("rope_scaling.low_freq_factor", lowFreqFactor);
            finitePositive("rope_scaling.high_freq_factor", highFreqFactor);
            if (!(highFreqFactor > lowFreqFactor)) {
                throw new IllegalArgumentException("config field 'rope_scaling.high_freq_factor' (" + highFreqFactor
                        + ") must be greater than 'rope_scaling.low_freq_factor' (" + lowFreqFactor + ")");
            }
            positive("rope_scaling.original_max_position_embeddings", originalMaxPositions);
        }
    }

    /**
     * The Llama-shaped architectures the decoder runs: the same blocks (RMSNorm, RoPE, grouped-query
     * attention, SwiGLU); Mistral adds a sliding attention window, Qwen2 biases on q, k and v.
     */
    public enum Architecture {
        LLAMA("LlamaForCausalLM", "llama"),
        MISTRAL("MistralForCausalLM", "mistral"),
        QWEN2("Qwen2ForCausalLM", "qwen2");

        /** The name in {@code config.json}'s {@code architectures}. */
        public final String className;
        /** The {@code model_type} in {@code config.json}. */
        public final String modelType;

        Architecture(String className, String modelType) {
            this.className = className;
            this.modelType = modelType;
        }

        /** The architecture of a class name; an error naming the supported ones otherwise. */
        public static Architecture ofClassName(String name) {
            for (Architecture a : values()) {
                if (a.className.equals(name)) {
                    return a;
                }
            }
            throw new IllegalArgumentException("architectures is [" + name + "]; supported: LlamaForCausalLM, MistralForCausalLM,"
                    + " Qwen2ForCausalLM");
        }
    }

    /** Whether o_proj has a bias too (Llama and Mistral with {@code attention_bias}; Qwen2 never). */
    public boolean outputBias() {
        return attentionBias && architecture != Architecture.QWEN2;
    }

    /** Query heads per KV head. */
    public int groups() {
        return heads / kvHeads;
    }

    /** Reads {@code config.json}; names the file and the field on any problem. */
    public static LlamaConfig read(Path file) {
        JsonNode root;
        try {
            root = JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot read config.json: " + e.getMessage(), e);
        }
        try {
            return parse(root);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
        }
    }

    static LlamaConfig parse(JsonNode root) {
        JsonNode archNode = root.get("architectures");
        Architecture arch = archNode != null && archNode.isArray() && archNode.size() > 0
                ? Architecture.ofClassName(archNode.get(0).asText()) : Architecture.LLAMA;
        boolean bias = arch == Architecture.QWEN2 || root.path("attention_bias").asBoolean(false);
        // Qwen2 declares a sliding_window it only uses with use_sliding_window; Mistral uses it when it is set.
        boolean windowed = arch != Architecture.QWEN2 || root.path("use_sliding_window").asBoolean(false);
        JsonNode sw = root.get("sliding_window");
        int window = windowed && sw != null && !sw.isNull() ? requiredInt(root, "sliding_window") : 0;
        int hidden = requiredInt(root, "hidden_size");
        int heads = requiredInt(root, "num_attention_heads");
        int kvHeads = root.has("num_key_value_heads") && !root.get("num_key_value_heads").isNull()
                ? requiredInt(root, "num_key_value_heads") : heads;
        int headDim = root.has("head_dim") && !root.get("head_dim").isNull() ? requiredInt(root, "head_dim") : hidden / heads;
        // transformers 5 writes one "rope_parameters" object (rope_theta and rope_type inside it); earlier versions a
        // top-level "rope_theta" and an optional "rope_scaling". Both are read; rope_parameters wins when present.
        JsonNode rp = root.get("rope_parameters");
        boolean v5 = rp != null && !rp.isNull();
        String ropeField = v5 ? "rope_parameters" : "rope_scaling";
        JsonNode rs = v5 ? rp : root.get("rope_scaling");
        double ropeTheta = optionalDouble(root, "rope_theta", 10000.0);
        RopeScaling scaling = null;
        if (rs != null && !rs.isNull()) {
            if (!rs.isObject()) {
                throw new IllegalArgumentException("config field '" + ropeField + "' is not an object: " + abbreviate(rs));
            }
            if (v5) {
                ropeTheta = optionalDouble(rs, "rope_theta", ropeTheta);
            }
            String type = rs.has("rope_type") ? rs.get("rope_type").asText() : rs.path("type").asText(v5 ? "default" : "");
            if (type.equals("llama3")) {
                String prefix = ropeField + ".";
                scaling = new RopeScaling(requiredDouble(rs, "factor", prefix), requiredDouble(rs, "low_freq_factor", prefix),
                        requiredDouble(rs, "high_freq_factor", prefix),
                        intValue(prefix + "original_max_position_embeddings", required(rs, "original_max_position_embeddings", prefix)));
            } else if (!(v5 && type.equals("default"))) {
                throw new IllegalArgumentException(ropeField + " type '" + type + "' is not supported (only "
                        + (v5 ? "default and " : "") + "llama3)");
            }
        }
        int vocab = requiredInt(root, "vocab_size");
        return new LlamaConfig(hidden, requiredInt(root, "intermediate_size"), requiredInt(root, "num_hidden_layers"),
                heads, kvHeads, headDim, vocab,
                optionalInt(root, "max_position_embeddings", 2048),
                optionalDouble(root, "rms_norm_eps", 1e-6), ropeTheta, scaling,
                optionalBoolean(root, "tie_word_embeddings", false),
                firstTokenId(root, "bos_token_id", 1, vocab), firstTokenId(root, "eos_token_id", 2, vocab), arch, bias, window);
    }

    /** Writes this configuration as a Hugging Face {@code config.json}. */
    public void write(Path file) {
        ObjectNode o = JSON.createObjectNode();
        o.putArray("architectures").add(architecture.className);
        o.put("model_type", architecture.modelType);
        o.put("hidden_size", hiddenSize);
        o.put("intermediate_size", intermediateSize);
        o.put("num_hidden_layers", layers);
        o.put("num_attention_heads", heads);
        o.put("num_key_value_heads", kvHeads);
        o.put("head_dim", headDim);
        o.put("vocab_size", vocabSize);
        o.put("max_position_embeddings", maxPositions);
        o.put("rms_norm_eps", rmsNormEps);
        o.put("rope_theta", ropeTheta);
        if (ropeScaling == null) {
            o.putNull("rope_scaling");
        } else {
            ObjectNode rs = o.putObject("rope_scaling");
            rs.put("rope_type", "llama3");
            rs.put("factor", ropeScaling.factor());
            rs.put("low_freq_factor", ropeScaling.lowFreqFactor());
            rs.put("high_freq_factor", ropeScaling.highFreqFactor());
            rs.put("original_max_position_embeddings", ropeScaling.originalMaxPositions());
        }
        o.put("tie_word_embeddings", tieWordEmbeddings);
        if (architecture == Architecture.QWEN2) {
            o.put("use_sliding_window", slidingWindow > 0);
        } else if (attentionBias) {
            o.put("attention_bias", true);
        }
        if (slidingWindow > 0) {
            o.put("sliding_window", slidingWindow);
        } else if (architecture == Architecture.MISTRAL) {
            o.putNull("sliding_window");
        }
        o.put("bos_token_id", bosTokenId);
        o.put("eos_token_id", eosTokenId);
        o.put("hidden_act", "silu");
        o.put("torch_dtype", "float32");
        try {
            AtomicFiles.write(file, JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(o)); // whole or not at all
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }

    private static int requiredInt(JsonNode node, String field) {
        JsonNode v = node.get(field);
        if (v == null || v.isNull()) {
            throw new IllegalArgumentException("config field '" + field + "' is missing");
        }
        return intValue(field, v);
    }

    /** An integer, strictly: 1.5, "2" and 2^31 are errors, not 1, 2 and a wrapped value. */
    private static int intValue(String field, JsonNode v) {
        if (!v.isIntegralNumber() || !v.canConvertToInt()) {
            throw new IllegalArgumentException("config field '" + field + "' is not an integer: " + abbreviate(v));
        }
        return v.asInt();
    }

    private static int optionalInt(JsonNode node, String field, int fallback) {
        JsonNode v = node.get(field);
        return v == null || v.isNull() ? fallback : intValue(field, v);
    }

    private static double requiredDouble(JsonNode node, String field, String prefix) {
        JsonNode v = required(node, field, prefix);
        if (!v.isNumber()) {
            throw new IllegalArgumentException("config field '" + prefix + field + "' is not a number: " + abbreviate(v));
        }
        return v.asDouble();
    }

    private static JsonNode required(JsonNode node, String field, String prefix) {
        JsonNode v = node.get(field);
        if (v == null || v.isNull()) {
            throw new IllegalArgumentException("config field '" + prefix + field + "' is missing");
        }
        return v;
    }

    /** A number if present; a string or anything else is an error, not the default. */
    private static double optionalDouble(JsonNode node, String field, double fallback) {
        JsonNode v = node.get(field);
        if (v == null || v.isNull()) {
            return fallback;
        }
        if (!v.isNumber()) {
            throw new IllegalArgumentException("config field '" + field + "' is not a number: " + abbreviate(v));
        }
        return v.asDouble();
    }

    private static boolean optionalBoolean(JsonNode node, String field, boolean fallback) {
        JsonNode v = node.get(field);
        if (v == null || v.isNull()) {
            return fallback;
        }
        if (!v.isBoolean()) {
            throw new IllegalArgumentException("config field '" + field + "' is not true or false: " + abbreviate(v));
        }
        return v.asBoolean();
    }

    /** A token id, or the first of a list of them (Llama 3 lists several eos ids); every one must be in the vocabulary. */
    private static int firstTokenId(JsonNode node, String field, int fallback, int vocabSize) {
        JsonNode v = node.get(field);
        if (v == null || v.isNull()) {
            return fallback;
        }
        if (!v.isArray()) {
            return intValue(field, v);
        }
        if (v.size() == 0) {
            return fallback;
        }
        for (JsonNode id : v) {
            tokenId(field, intValue(field, id), vocabSize);
        }
        return intValue(field, v.get(0));
    }

    private static void tokenId(String field, int id, int vocabSize) {
        if (id < 0 || id >= vocabSize) {
            throw new IllegalArgumentException("config field '" + field + "' is " + id + ", outside the vocabulary [0, " + vocabSize + ")");
        }
    }

    private static void positive(String field, int v) {
        if (v <= 0) {
            throw new IllegalArgumentException("config field '" + field + "' must be > 0, was " + v);
        }
    }

    private static void finitePositive(String field, double v) {
        if (!(v > 0) || Double.isInfinite(v)) {
            throw new IllegalArgumentException("config field '" + field + "' must be > 0 and finite, was " + v);
        }
    }

    private static String abbreviate(JsonNode v) {
        String s = String.valueOf(v);
        return s.length() <= 60 ? s : s.substring(0, 57) + "...";
    }

    /** Reads a config.json that may not exist: a helpful error instead of a stack trace. */
    public static LlamaConfig readDir(Path dir) {
        Path file = dir.resolve("config.json");
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException(dir + ": no config.json (expected a Hugging Face model directory)");
        }
        return read(file);
    }
}

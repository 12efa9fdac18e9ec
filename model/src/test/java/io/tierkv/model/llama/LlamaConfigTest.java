package io.tierkv.model.llama;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** config.json values are taken as written or refused with the field named; none is coerced or defaulted. */
class LlamaConfigTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    /** A valid config (the test model's), changed by {@code edit}, parsed. */
    private static LlamaConfig parse(Consumer<ObjectNode> edit) {
        ObjectNode o = JSON.createObjectNode();
        o.put("hidden_size", 32).put("intermediate_size", 64).put("num_hidden_layers", 2).put("num_attention_heads", 4)
                .put("num_key_value_heads", 2).put("vocab_size", 50).put("max_position_embeddings", 512)
                .put("rms_norm_eps", 1e-5).put("rope_theta", 10000.0).put("bos_token_id", 1).put("eos_token_id", 2);
        edit.accept(o);
        return LlamaConfig.parse(o);
    }

    private static String error(Consumer<ObjectNode> edit) {
        return assertThrows(IllegalArgumentException.class, () -> parse(edit)).getMessage();
    }

    private static ObjectNode llama3(ObjectNode o, double factor, double low, double high) {
        ObjectNode rs = o.putObject("rope_scaling");
        rs.put("rope_type", "llama3").put("factor", factor).put("low_freq_factor", low).put("high_freq_factor", high)
                .put("original_max_position_embeddings", 8192);
        return o;
    }

    @Test
    void validConfig_parsesEveryField() {
        LlamaConfig c = parse(o -> llama3(o, 8, 1, 4).putArray("eos_token_id").add(2).add(3));
        assertEquals(new LlamaConfig(32, 64, 2, 4, 2, 8, 50, 512, 1e-5, 10000.0, new LlamaConfig.RopeScaling(8, 1, 4, 8192), false, 1, 2), c);
    }

    /** Issue 14: 1.5 became 1. */
    @Test
    void transformers5RopeParameters_carryThetaAndLlama3Scaling() {
        LlamaConfig c = parse(o -> {
            o.remove("rope_theta");
            o.putObject("rope_parameters").put("rope_type", "llama3").put("rope_theta", 500000.0).put("factor", 8.0)
                    .put("low_freq_factor", 1.0).put("high_freq_factor", 4.0).put("original_max_position_embeddings", 16);
        });
        assertEquals(500000.0, c.ropeTheta());
        assertEquals(new LlamaConfig.RopeScaling(8, 1, 4, 16), c.ropeScaling());
        LlamaConfig plain = parse(o -> o.putObject("rope_parameters").put("rope_type", "default").put("rope_theta", 1e6));
        assertEquals(1e6, plain.ropeTheta());
        assertEquals(null, plain.ropeScaling());
        assertEquals("rope_parameters type 'yarn' is not supported (only default and llama3)",
                error(o -> o.putObject("rope_parameters").put("rope_type", "yarn").put("rope_theta", 1e6)));
        assertEquals("config field 'rope_parameters.factor' is missing",
                error(o -> o.putObject("rope_parameters").put("rope_type", "llama3")));
    }

    @Test
    void fractionalLayerCount_isNotAnInteger() {
        assertEquals("config field 'num_hidden_layers' is not an integer: 1.5", error(o -> o.put("num_hidden_layers", 1.5)));
    }

    /** Issue 14: 2147483647 layers built a map of ~19 billion tensor names before the weights were opened. */
    @Test
    void hugeLayerCount_isRefusedBeforeAnythingIsBuilt() {
        assertEquals("config field 'num_hidden_layers' is 2147483647, more than the 4096 this loader accepts",
                error(o -> o.put("num_hidden_layers", Integer.MAX_VALUE)));
    }

    @Test
    void layerCountPastAnInt_isNotAnInteger() {
        assertEquals("config field 'num_hidden_layers' is not an integer: 4294967296", error(o -> o.put("num_hidden_layers", 1L << 32)));
    }

    /** Issue 14: non-numeric rms_norm_eps, rope_theta and max_position_embeddings fell back to defaults. */
    @Test
    void nonNumericOptionalFields_areErrors_notDefaults() {
        assertEquals("config field 'rms_norm_eps' is not a number: \"abc\"", error(o -> o.put("rms_norm_eps", "abc")));
        assertEquals("config field 'rope_theta' is not a number: \"1e4\"", error(o -> o.put("rope_theta", "1e4")));
        assertEquals("config field 'max_position_embeddings' is not an integer: \"2048\"",
                error(o -> o.put("max_position_embeddings", "2048")));
        assertEquals("config field 'tie_word_embeddings' is not true or false: \"yes\"", error(o -> o.put("tie_word_embeddings", "yes")));
    }

    @Test
    void missingOptionalFields_takeTheDocumentedDefaults() {
        LlamaConfig c = parse(o -> o.without(java.util.List.of("max_position_embeddings", "rms_norm_eps", "rope_theta", "bos_token_id",
                "eos_token_id", "num_key_value_heads")));
        assertEquals(2048, c.maxPositions());
        assertEquals(1e-6, c.rmsNormEps());
        assertEquals(10000.0, c.ropeTheta());
        assertEquals(4, c.kvHeads());
        assertEquals(1, c.bosTokenId());
        assertEquals(2, c.eosTokenId());
    }

    /** Issue 14: llama3 rope_scaling with factor 0 was accepted and produced garbage. */
    @Test
    void ropeScalingFactorZero_isRefused() {
        assertEquals("config field 'rope_scaling.factor' must be > 0 and finite, was 0.0", error(o -> llama3(o, 0, 1, 4)));
    }

    /** Issue 14: equal low and high frequency factors divide by zero in the blend. */
    @Test
    void ropeScalingEqualLowAndHighFactors_areRefused() {
        assertEquals("config field 'rope_scaling.high_freq_factor' (1.0) must be greater than 'rope_scaling.low_freq_factor' (1.0)",
                error(o -> llama3(o, 8, 1, 1)));
    }

    /** Issue 14: bos/eos ids were not range-checked. */
    @Test
    void bosAndEosIdsOutsideTheVocabulary_areRefused() {
        assertEquals("config field 'bos_token_id' is 50, outside the vocabulary [0, 50)", error(o -> o.put("bos_token_id", 50)));
        assertEquals("config field 'eos_token_id' is -1, outside the vocabulary [0, 50)", error(o -> o.put("eos_token_id", -1)));
        assertEquals("config field 'eos_token_id' is 99, outside the vocabulary [0, 50)",
                error(o -> o.putArray("eos_token_id").add(2).add(99)));
    }

    @Test
    void read_namesTheFileAndTheField() throws Exception {
        Path file = dir.resolve("config.json");
        Files.writeString(file, "{\"hidden_size\": 32, \"intermediate_size\": 64, \"num_hidden_layers\": 1.5,"
                + " \"num_attention_heads\": 4, \"vocab_size\": 50}");
        assertEquals(file + ": config field 'num_hidden_layers' is not an integer: 1.5",
                assertThrows(IllegalArgumentException.class, () -> LlamaConfig.read(file)).getMessage());
    }
}

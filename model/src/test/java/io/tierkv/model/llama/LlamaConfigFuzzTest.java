package io.tierkv.model.llama;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tierkv.model.io.FuzzCorpus;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.BeforeContainer;
import net.jqwik.api.statistics.Statistics;

/**
 * Fuzzes {@code config.json} parsing with the corpus's configs ({@code fuzz/config}) edited as JSON. A config that
 * parses must hold exactly the integers its JSON holds (nothing rounded, wrapped or defaulted over a wrong type),
 * within the bounds that keep loading's allocations small; anything else fails with one
 * {@link IllegalArgumentException} that names the field.
 */
class LlamaConfigFuzzTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static List<JsonNode> seeds;

    @BeforeContainer
    static void load() throws IOException {
        seeds = new ArrayList<>();
        for (byte[] b : FuzzCorpus.files("config")) {
            seeds.add(JSON.readTree(b));
        }
    }

    @Provide
    Arbitrary<JsonNode> configs() {
        return Combinators.combine(Arbitraries.integers().between(0, 1000), FuzzCorpus.edits("head_dim", "num_key_value_heads",
                "rope_scaling", "factor", "eos_token_id", "bos_token_id", "max_position_embeddings", "architectures"))
                .as((seed, edits) -> FuzzCorpus.edited(seeds.get(seed % seeds.size()), edits));
    }

    @Property(seed = "20261130")
    void anyMutatedConfig_parsesExactly_orFailsNamingTheField(@ForAll("configs") JsonNode root) {
        String outcome;
        try {
            LlamaConfig c = LlamaConfig.parse(root);
            same(root, "hidden_size", c.hiddenSize());
            same(root, "intermediate_size", c.intermediateSize());
            same(root, "num_hidden_layers", c.layers());
            same(root, "num_attention_heads", c.heads());
            same(root, "vocab_size", c.vocabSize());
            assertTrue(c.layers() <= LlamaConfig.MAX_LAYERS);
            assertTrue(c.bosTokenId() >= 0 && c.bosTokenId() < c.vocabSize() && c.eosTokenId() >= 0 && c.eosTokenId() < c.vocabSize());
            assertTrue(c.rmsNormEps() > 0 && c.ropeTheta() > 0 && Double.isFinite(c.rmsNormEps()) && Double.isFinite(c.ropeTheta()));
            if (c.ropeScaling() != null) {
                assertTrue(c.ropeScaling().factor() > 0 && c.ropeScaling().highFreqFactor() > c.ropeScaling().lowFreqFactor());
            }
            LlamaWeights.expectedShapes(c); // bounded by MAX_LAYERS: cheap for any config that parses
            outcome = "parsed";
        } catch (IllegalArgumentException e) {
            String m = e.getMessage();
            assertFalse(m.contains("\n"), m);
            assertTrue(m.startsWith("config field '") || m.startsWith("architectures") || m.startsWith("rope_scaling type")
                    || m.startsWith("num_attention_heads") , "names the field: " + m);
            outcome = m.replaceAll(": .*|,.*| (is|must|was) .*", "");
        }
        Statistics.collect(outcome);
    }

    private static void same(JsonNode root, String field, int parsed) {
        JsonNode v = root.get(field);
        assertTrue(v != null && v.isIntegralNumber(), field + " parsed from " + v);
        assertEquals(v.asLong(), parsed, field);
    }
}

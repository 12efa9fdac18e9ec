package io.tierkv.model.io;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Iterator;
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
 * Fuzzes the tokenizer-vs-model check with the corpus's {@code tokenizer.json} files ({@code fuzz/tokenizer}) edited
 * as JSON, against vocabulary sizes around their ids. Whatever passes must only produce ids inside the model's
 * vocabulary (checked here from the JSON, independently of the check), and everything else fails with one
 * {@link IllegalArgumentException} that names the field.
 */
class TokenizerCheckFuzzTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static List<JsonNode> seeds;

    @BeforeContainer
    static void load() throws IOException {
        seeds = new ArrayList<>();
        for (byte[] b : FuzzCorpus.files("tokenizer")) {
            seeds.add(JSON.readTree(b));
        }
    }

    record Case(JsonNode tokenizer, int vocabSize) {
    }

    @Provide
    Arbitrary<Case> cases() {
        return Combinators.combine(Arbitraries.integers().between(0, 1000), FuzzCorpus.edits("x", "id", "vocab", "content", "type"),
                Arbitraries.of(1, 2, 3, 5, 6, 50, 175, 176, 5000, Integer.MAX_VALUE))
                .as((seed, edits, vocab) -> new Case(FuzzCorpus.edited(seeds.get(seed % seeds.size()), edits), vocab));
    }

    @Property(seed = "20261130")
    void anyMutatedTokenizer_passesOnlyWithIdsInsideTheVocabulary(@ForAll("cases") Case c) {
        String outcome;
        try {
            TokenizerCheck.check(c.tokenizer(), c.vocabSize());
            assertIdsWithin(c.tokenizer(), c.vocabSize());
            outcome = "passed";
        } catch (IllegalArgumentException e) {
            assertFalse(e.getMessage().contains("\n"), e.getMessage());
            assertTrue(e.getMessage().contains("'") || e.getMessage().startsWith("not a JSON object"), "names the field: " + e.getMessage());
            outcome = e.getMessage().replaceAll("token '[^']*'", "token '...'").replaceAll("-?[0-9]+", "N").replaceAll(": .*", "");
        }
        Statistics.collect(outcome);
    }

    /** The oracle: every id a passing tokenizer names is an integer in [0, vocabSize), and it names at least one. */
    private static void assertIdsWithin(JsonNode root, int vocabSize) {
        int count = 0;
        JsonNode vocab = root.path("model").path("vocab");
        if (vocab.isObject()) {
            for (Iterator<JsonNode> it = vocab.elements(); it.hasNext(); count++) {
                JsonNode id = it.next();
                assertTrue(id.isIntegralNumber() && id.asLong() >= 0 && id.asLong() < vocabSize, "vocab id " + id);
            }
        } else if (vocab.isArray()) {
            assertTrue(vocab.size() <= vocabSize, "unigram pieces " + vocab.size());
            count += vocab.size();
        }
        for (JsonNode t : root.path("added_tokens")) {
            JsonNode id = t.get("id");
            assertTrue(id != null && id.isIntegralNumber() && id.asLong() >= 0 && id.asLong() < vocabSize, "added id " + id);
            count++;
        }
        assertTrue(count > 0, "a tokenizer that passes produces some token");
    }
}

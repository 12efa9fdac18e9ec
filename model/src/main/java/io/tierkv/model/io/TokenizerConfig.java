package io.tierkv.model.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The parts of a Hugging Face {@code tokenizer_config.json} that generation needs: whether to add the
 * beginning-of-sequence token ({@code add_bos_token}), the special tokens' text ({@code bos_token},
 * {@code eos_token}, each a string or an {@code {"content": ...}} object) and the chat template
 * ({@code chat_template}, a string or a list of named templates of which "default" is taken).
 * A model directory without the file has an empty configuration.
 *
 * @param addBosToken  {@code add_bos_token}, or null when the file does not say (the tokenizer's own
 *                     post-processor decides then)
 * @param bosToken     the text of the BOS token, or null
 * @param eosToken     the text of the EOS token, or null
 * @param chatTemplate the Jinja chat template, or null
 */
public record TokenizerConfig(Boolean addBosToken, String bosToken, String eosToken, String chatTemplate) {
    public static final String FILE = "tokenizer_config.json";
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Nothing said: no file. */
    public static TokenizerConfig empty() {
        return new TokenizerConfig(null, null, null, null);
    }

    /** Reads {@code tokenizer_config.json} from a model directory (empty when absent). */
    public static TokenizerConfig read(Path dir) {
        Path file = dir.resolve(FILE);
        if (!Files.isRegularFile(file)) {
            return empty();
        }
        JsonNode root;
        try {
            root = JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot read: " + e.getMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw new IllegalArgumentException(file + ": not a JSON object");
        }
        JsonNode add = root.get("add_bos_token");
        if (add != null && !add.isNull() && !add.isBoolean()) {
            throw new IllegalArgumentException(file + ": add_bos_token is not true or false: " + add);
        }
        return new TokenizerConfig(add == null || add.isNull() ? null : add.asBoolean(), token(file, root, "bos_token"),
                token(file, root, "eos_token"), template(file, root.get("chat_template")));
    }

    private static String token(Path file, JsonNode root, String field) {
        JsonNode v = root.get(field);
        if (v == null || v.isNull()) {
            return null;
        }
        if (v.isTextual()) {
            return v.asText();
        }
        if (v.isObject() && v.path("content").isTextual()) {
            return v.get("content").asText();
        }
        throw new IllegalArgumentException(file + ": " + field + " is neither a string nor an object with a content: " + v);
    }

    private static String template(Path file, JsonNode v) {
        if (v == null || v.isNull()) {
            return null;
        }
        if (v.isTextual()) {
            return v.asText();
        }
        if (v.isArray()) {
            for (JsonNode t : v) {
                if ("default".equals(t.path("name").asText()) && t.path("template").isTextual()) {
                    return t.get("template").asText();
                }
            }
        }
        throw new IllegalArgumentException(file + ": chat_template is neither a string nor a list holding a \"default\" template");
    }
}

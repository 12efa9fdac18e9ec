package io.tierkv.model.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Map;

/**
 * Checks a Hugging Face {@code tokenizer.json} against the model it is to feed, before either is loaded:
 * a vocabulary that is not empty, and every id it can produce (its model's vocabulary and its added tokens)
 * inside the model's embedding table {@code [0, vocab_size)}. Without it, an id past the table reaches
 * libtorch's embedding lookup and ends in "index out of range" from native code; an empty WordLevel
 * vocabulary ends in a tokenizer panic.
 *
 * <p>Reads the JSON with Jackson only (no native tokenizer), so it is cheap and safe to fuzz. Understands
 * the {@code model} types whose vocabulary is a {@code {token: id}} object (WordLevel, BPE, WordPiece) and
 * Unigram's {@code [[piece, score], ...]} list (ids are list indices); other types are checked for their
 * added tokens only. Every problem is an {@link IllegalArgumentException} naming the file and the field.
 */
public final class TokenizerCheck {
    private static final ObjectMapper JSON = new ObjectMapper();

    private TokenizerCheck() {
    }

    /** Checks {@code tokenizer.json} in a model directory (or the file itself) against a vocabulary of {@code vocabSize} ids. */
    public static void check(Path dirOrFile, int vocabSize) {
        Path file = Files.isDirectory(dirOrFile) ? dirOrFile.resolve("tokenizer.json") : dirOrFile;
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException(dirOrFile + ": no tokenizer.json");
        }
        JsonNode root;
        try {
            root = JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new IllegalArgumentException(file + ": not valid JSON: " + firstLine(e.getMessage()));
        }
        try {
            check(root, vocabSize);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
        }
    }

    /** The check on a parsed {@code tokenizer.json}; messages name the field, not the file. */
    public static void check(JsonNode root, int vocabSize) {
        if (vocabSize <= 0) {
            throw new IllegalArgumentException("the model's vocab_size must be > 0, was " + vocabSize);
        }
        if (root == null || !root.isObject()) {
            throw new IllegalArgumentException("not a JSON object");
        }
        JsonNode model = root.get("model");
        if (model == null || !model.isObject()) {
            throw new IllegalArgumentException("no 'model' object");
        }
        int ids = checkVocab(model, vocabSize);
        ids += checkAddedTokens(root.get("added_tokens"), vocabSize);
        if (ids == 0) {
            throw new IllegalArgumentException("'model.vocab' is empty and there are no 'added_tokens': the tokenizer can produce no token");
        }
    }

    /** Checks model.vocab; returns how many entries it holds. */
    private static int checkVocab(JsonNode model, int vocabSize) {
        String type = model.path("type").asText("");
        JsonNode vocab = model.get("vocab");
        if (vocab == null || vocab.isNull()) {
            if (type.equals("WordLevel") || type.equals("BPE") || type.equals("WordPiece") || type.equals("Unigram")) {
                throw new IllegalArgumentException("'model.vocab' is missing from a " + type + " tokenizer");
            }
            return 0;
        }
        if (vocab.isArray()) { // Unigram: [[piece, score], ...], the id of a piece is its index
            if (vocab.size() > vocabSize) {
                throw new IllegalArgumentException("'model.vocab' lists " + vocab.size() + " pieces, more than the model's vocab_size "
                        + vocabSize + " (ids " + vocabSize + " and up are outside its embedding table)");
            }
            return vocab.size();
        }
        if (!vocab.isObject()) {
            throw new IllegalArgumentException("'model.vocab' is neither an object nor a list");
        }
        Iterator<Map.Entry<String, JsonNode>> it = vocab.fields();
        while (it.hasNext()) {
            Map.Entry<String, JsonNode> e = it.next();
            checkId("'model.vocab' token " + quote(e.getKey()), e.getValue(), vocabSize);
        }
        JsonNode unk = model.get("unk_token");
        if (type.equals("WordLevel") && vocab.size() > 0 && unk != null && unk.isTextual() && !vocab.has(unk.asText())) {
            throw new IllegalArgumentException("'model.unk_token' " + quote(unk.asText()) + " is not in 'model.vocab'");
        }
        return vocab.size();
    }

    private static int checkAddedTokens(JsonNode added, int vocabSize) {
        if (added == null || added.isNull()) {
            return 0;
        }
        if (!added.isArray()) {
            throw new IllegalArgumentException("'added_tokens' is not a list");
        }
        for (JsonNode t : added) {
            String content = t.path("content").asText("?");
            checkId("'added_tokens' token " + quote(content), t.get("id"), vocabSize);
        }
        return added.size();
    }

    private static void checkId(String what, JsonNode id, int vocabSize) {
        if (id == null || !id.isIntegralNumber() || !id.canConvertToLong()) {
            throw new IllegalArgumentException(what + " has no integer id: " + id);
        }
        long v = id.asLong();
        if (v < 0 || v >= vocabSize) {
            throw new IllegalArgumentException(what + " has id " + v + ", outside the model's vocabulary [0, " + vocabSize
                    + ") (config.json vocab_size)");
        }
    }

    private static String quote(String s) {
        return "'" + (s.length() <= 40 ? s : s.substring(0, 37) + "...") + "'";
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}

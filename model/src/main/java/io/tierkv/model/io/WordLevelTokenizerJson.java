package io.tierkv.model.io;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tierkv.core.io.AtomicFiles;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;

/**
 * Writes a Hugging Face {@code tokenizer.json} with a WordLevel model and a whitespace pre-tokenizer:
 * every word of the vocabulary is one token, ids in list order.
 */
public final class WordLevelTokenizerJson {
    private WordLevelTokenizerJson() {
    }

    public static void write(Path file, List<String> words, Set<String> special, String unk) {
        ObjectMapper json = new ObjectMapper();
        ObjectNode root = json.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        for (int i = 0; i < words.size(); i++) {
            if (special.contains(words.get(i))) {
                ObjectNode t = added.addObject();
                t.put("id", i);
                t.put("content", words.get(i));
                t.put("single_word", false);
                t.put("lstrip", false);
                t.put("rstrip", false);
                t.put("normalized", false);
                t.put("special", true);
            }
        }
        root.putNull("normalizer");
        root.putObject("pre_tokenizer").put("type", "WhitespaceSplit");
        root.putNull("post_processor");
        root.putNull("decoder");
        ObjectNode model = root.putObject("model");
        model.put("type", "WordLevel");
        ObjectNode vocab = model.putObject("vocab");
        for (int i = 0; i < words.size(); i++) {
            vocab.put(words.get(i), i);
        }
        model.put("unk_token", unk);
        try {
            AtomicFiles.write(file, json.writerWithDefaultPrettyPrinter().writeValueAsBytes(root)); // whole or not at all
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }
}

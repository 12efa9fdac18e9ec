package io.tierkv.model.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TextTokenizerTest {
    @TempDir
    Path dir;

    /** WordLevel over whitespace, ids: <unk> 0, <s> 1, </s> 2, the 3, cat 4, sat 5; a post-processor that adds <s>. */
    private static final String WORDS = "{\"version\":\"1.0\",\"added_tokens\":["
            + "{\"id\":0,\"content\":\"<unk>\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":true},"
            + "{\"id\":1,\"content\":\"<s>\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":true},"
            + "{\"id\":2,\"content\":\"</s>\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":true}],"
            + "\"normalizer\":null,\"pre_tokenizer\":{\"type\":\"WhitespaceSplit\"},"
            + "\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"<s>\",\"type_id\":0}},"
            + "{\"Sequence\":{\"id\":\"A\",\"type_id\":0}}],\"pair\":[{\"Sequence\":{\"id\":\"A\",\"type_id\":0}}],"
            + "\"special_tokens\":{\"<s>\":{\"id\":\"<s>\",\"ids\":[1],\"tokens\":[\"<s>\"]}}},\"decoder\":null,"
            + "\"model\":{\"type\":\"WordLevel\",\"vocab\":{\"<unk>\":0,\"<s>\":1,\"</s>\":2,\"the\":3,\"cat\":4,\"sat\":5},\"unk_token\":\"<unk>\"}}";

    /** SentencePiece-style pieces (Metaspace decoder): ids ▁the 0, ▁cat 1, s 2, ▁sat 3. */
    private static final String PIECES = "{\"version\":\"1.0\",\"added_tokens\":[],\"normalizer\":null,"
            + "\"pre_tokenizer\":{\"type\":\"Metaspace\",\"replacement\":\"\\u2581\",\"prepend_scheme\":\"always\",\"split\":true},"
            + "\"post_processor\":null,"
            + "\"decoder\":{\"type\":\"Metaspace\",\"replacement\":\"\\u2581\",\"prepend_scheme\":\"always\",\"split\":true},"
            + "\"model\":{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":null,\"continuing_subword_prefix\":null,"
            + "\"end_of_word_suffix\":null,\"fuse_unk\":false,\"byte_fallback\":false,"
            + "\"vocab\":{\"\\u2581the\":0,\"\\u2581cat\":1,\"s\":2,\"\\u2581sat\":3},\"merges\":[]}}";

    private TextTokenizer words(String tokenizerConfig) throws IOException {
        Files.writeString(dir.resolve("tokenizer.json"), WORDS);
        if (tokenizerConfig != null) {
            Files.writeString(dir.resolve(TokenizerConfig.FILE), tokenizerConfig);
        }
        return TextTokenizer.load(dir);
    }

    @Test
    void encodePrompt_addBosTrue_prependsTheBosTokenOnce() throws IOException {
        try (TextTokenizer t = words("{\"bos_token\": \"<s>\", \"add_bos_token\": true}")) {
            assertArrayEquals(new int[] {1, 3, 4}, t.encodePrompt("the cat"));
            assertArrayEquals(new int[] {1, 3, 4}, t.encodePrompt("<s> the cat"));
        }
    }

    @Test
    void encodePrompt_addBosFalse_addsNothing() throws IOException {
        try (TextTokenizer t = words("{\"bos_token\": {\"content\": \"<s>\"}, \"add_bos_token\": false}")) {
            assertArrayEquals(new int[] {3, 4}, t.encodePrompt("the cat"));
        }
    }

    @Test
    void encodePrompt_configSilent_letsThePostProcessorDecide() throws IOException {
        try (TextTokenizer t = words(null)) {
            assertArrayEquals(new int[] {1, 3, 4}, t.encodePrompt("the cat"));
            assertArrayEquals(new int[] {3, 4}, t.encode("the cat"));
        }
    }

    @Test
    void encodeChat_rendersTheTemplateWithoutAddingAnotherBos() throws IOException {
        String config = "{\"bos_token\": \"<s>\", \"eos_token\": \"</s>\", \"add_bos_token\": true, \"chat_template\":"
                + " \"{{ bos_token }}{% for m in messages %}{{ m['content'] }} {{ eos_token }} {% endfor %}"
                + "{% if add_generation_prompt %}the{% endif %}\"}";
        try (TextTokenizer t = words(config)) {
            assertArrayEquals(new int[] {1, 4, 5, 2, 3}, t.encodeChat("cat sat"));
            assertEquals(2, t.eosId(99));
        }
    }

    @Test
    void stream_sentencePiecePieces_comeOutSpacedAsTheWholeText() throws IOException {
        Files.writeString(dir.resolve("tokenizer.json"), PIECES);
        try (TextTokenizer t = TextTokenizer.load(dir)) {
            int[] prompt = {0};                  // "the"
            int[] generated = {1, 2, 3};         // "▁cat", "s", "▁sat"
            TextStream stream = TextStream.of(t, prompt);
            StringBuilder streamed = new StringBuilder(t.decode(prompt, true));
            StringBuilder perToken = new StringBuilder(t.decode(prompt, true));
            for (int id : generated) {
                streamed.append(stream.push(id));
                perToken.append(' ').append(t.decode(id));
            }
            assertEquals("the cats sat", streamed.toString());
            assertEquals("the cat s sat", perToken.toString(), "what decoding token by token printed");
        }
    }

    @Test
    void stream_incompleteCharacter_isHeldUntilComplete() {
        // A fake decoder: token 7 is the first byte of "é" (decodes to U+FFFD alone), token 8 completes it.
        TextStream s = new TextStream(ids -> {
            StringBuilder b = new StringBuilder("x");
            for (int i = 1; i < ids.length; i++) {
                b.append(ids[i] == 7 ? (i + 1 < ids.length && ids[i + 1] == 8 ? "" : "\uFFFD") : ids[i] == 8 ? "é" : "?");
            }
            return b.toString();
        }, new int[] {0});
        assertEquals("", s.push(7));
        assertEquals("é", s.push(8));
        assertEquals("?", s.push(5));
    }
}

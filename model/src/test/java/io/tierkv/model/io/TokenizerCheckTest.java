package io.tierkv.model.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenizerCheckTest {
    @TempDir
    Path dir;

    private Path wordLevel(List<String> words) {
        Path file = dir.resolve("tokenizer.json");
        WordLevelTokenizerJson.write(file, words, Set.of("<unk>"), "<unk>");
        return file;
    }

    @Test
    void tokenizerWithinTheModelsVocabulary_passes() {
        TokenizerCheck.check(wordLevel(List.of("<unk>", "a", "b")), 3);
    }

    /** Issue 14: an id >= vocab_size reached libtorch's embedding and failed with "index out of range in self". */
    @Test
    void tokenizerIdBeyondTheVocabulary_isRefusedNamingTheToken() {
        Path file = wordLevel(List.of("<unk>", "a", "passage"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TokenizerCheck.check(file, 2));
        assertEquals(file + ": 'model.vocab' token 'passage' has id 2, outside the model's vocabulary [0, 2) (config.json vocab_size)",
                e.getMessage());
    }

    @Test
    void addedTokenBeyondTheVocabulary_isRefused() throws Exception {
        Path file = dir.resolve("added.json");
        Files.writeString(file, "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0}},\"added_tokens\":[{\"id\":7,\"content\":\"<eos>\"}]}");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TokenizerCheck.check(file, 4));
        assertEquals(file + ": 'added_tokens' token '<eos>' has id 7, outside the model's vocabulary [0, 4) (config.json vocab_size)",
                e.getMessage());
    }

    /** Issue 14: an empty vocabulary ended in the tokenizer's panic ("Missing [UNK] token from the vocabulary"). */
    @Test
    void emptyTokenizerVocabulary_isRefused() throws Exception {
        Path file = dir.resolve("empty.json");
        Files.writeString(file, "{\"added_tokens\":[],\"model\":{\"type\":\"WordLevel\",\"vocab\":{},\"unk_token\":\"[UNK]\"}}");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TokenizerCheck.check(file, 4));
        assertEquals(file + ": 'model.vocab' is empty and there are no 'added_tokens': the tokenizer can produce no token", e.getMessage());
    }

    @Test
    void unigramWithMorePiecesThanTheModel_isRefused() throws Exception {
        Path file = dir.resolve("unigram.json");
        Files.writeString(file, "{\"model\":{\"type\":\"Unigram\",\"vocab\":[[\"a\",0.0],[\"b\",-1.0],[\"c\",-2.0]]}}");
        TokenizerCheck.check(file, 3);
        assertThrows(IllegalArgumentException.class, () -> TokenizerCheck.check(file, 2));
    }

    @Test
    void wordLevelWhoseUnknownTokenIsNotInItsVocabulary_isRefused() throws Exception {
        Path file = dir.resolve("unk.json");
        Files.writeString(file, "{\"model\":{\"type\":\"WordLevel\",\"vocab\":{\"a\":0},\"unk_token\":\"[UNK]\"}}");
        assertEquals(file + ": 'model.unk_token' '[UNK]' is not in 'model.vocab'",
                assertThrows(IllegalArgumentException.class, () -> TokenizerCheck.check(file, 4)).getMessage());
    }

    @Test
    void notJson_andNoModel_areOneLineErrors() throws Exception {
        Path file = dir.resolve("bad.json");
        Files.writeString(file, "{\"model\": [");
        assertEquals(true, assertThrows(IllegalArgumentException.class, () -> TokenizerCheck.check(file, 4)).getMessage()
                .startsWith(file + ": not valid JSON: "));
        Files.writeString(file, "{\"version\": \"1.0\"}");
        assertEquals(file + ": no 'model' object", assertThrows(IllegalArgumentException.class, () -> TokenizerCheck.check(file, 4)).getMessage());
    }
}

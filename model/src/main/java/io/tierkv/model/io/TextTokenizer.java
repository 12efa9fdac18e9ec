package io.tierkv.model.io;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * A Hugging Face {@code tokenizer.json} through DJL's tokenizers, offline: DJL's native library ships in
 * its jar, and {@code ai.djl.offline=true} (set here too) stops it from looking for another one. Special
 * tokens are not added: prompts carry their own {@code <bos>}.
 */
public final class TextTokenizer implements AutoCloseable {
    private final HuggingFaceTokenizer tokenizer;

    private TextTokenizer(HuggingFaceTokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    /** Loads {@code tokenizer.json} from a model directory. */
    public static TextTokenizer load(Path dir) {
        Path file = Files.isDirectory(dir) ? dir.resolve("tokenizer.json") : dir;
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException(dir + ": no tokenizer.json");
        }
        System.setProperty("ai.djl.offline", "true");
        try {
            return new TextTokenizer(HuggingFaceTokenizer.newInstance(file, Map.of("addSpecialTokens", "false", "truncation", "false", "padding", "false", "modelMaxLength", "1000000")));
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot load the tokenizer: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(file + ": cannot load the tokenizer: " + e.getMessage(), e);
        }
    }

    /** Token ids of {@code text}, without added special tokens. */
    public int[] encode(String text) {
        Encoding e = tokenizer.encode(text, false, false);
        long[] ids = e.getIds();
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            out[i] = Math.toIntExact(ids[i]);
        }
        return out;
    }

    /** Text of token ids, special tokens kept. */
    public String decode(int[] ids) {
        long[] l = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            l[i] = ids[i];
        }
        return tokenizer.decode(l, false);
    }

    /** Text of one token, for streaming output. */
    public String decode(int id) {
        return decode(new int[] {id});
    }

    @Override
    public void close() {
        tokenizer.close();
    }
}

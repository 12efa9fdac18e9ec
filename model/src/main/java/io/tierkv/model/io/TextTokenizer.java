package io.tierkv.model.io;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * A Hugging Face {@code tokenizer.json} through DJL's tokenizers, offline: DJL's native library ships in
 * its jar, and {@code ai.djl.offline=true} (set here too) stops it from looking for another one. With the
 * model directory's {@code tokenizer_config.json} ({@link TokenizerConfig}): {@link #encodePrompt} adds the
 * beginning-of-sequence token as {@code add_bos_token} says, {@link #encodeChat} applies the chat template.
 * {@link #encode} adds nothing (the bundled suite's prompts carry their own {@code <bos>}).
 */
public final class TextTokenizer implements AutoCloseable {
    private final HuggingFaceTokenizer tokenizer;
    private final TokenizerConfig config;

    private TextTokenizer(HuggingFaceTokenizer tokenizer, TokenizerConfig config) {
        this.tokenizer = tokenizer;
        this.config = config;
    }

    /** Loads {@code tokenizer.json} (and {@code tokenizer_config.json} when present) from a model directory. */
    public static TextTokenizer load(Path dir) {
        boolean isDir = Files.isDirectory(dir);
        Path file = isDir ? dir.resolve("tokenizer.json") : dir;
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException(dir + ": no tokenizer.json");
        }
        TokenizerConfig config = isDir ? TokenizerConfig.read(dir) : TokenizerConfig.empty();
        System.setProperty("ai.djl.offline", "true");
        try {
            return new TextTokenizer(HuggingFaceTokenizer.newInstance(file, Map.of("addSpecialTokens", "false", "truncation", "false",
                    "padding", "false", "modelMaxLength", "1000000")), config);
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot load the tokenizer: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(file + ": cannot load the tokenizer: " + e.getMessage(), e);
        }
    }

    /** The model directory's {@code tokenizer_config.json} (empty when it has none). */
    public TokenizerConfig config() {
        return config;
    }

    /** Token ids of {@code text}, without added special tokens. */
    public int[] encode(String text) {
        return encode(text, false);
    }

    /**
     * A plain prompt as the model expects it: with {@code add_bos_token} true, the {@code bos_token} first
     * (unless the text already starts with it); with false, nothing added; when the configuration does not
     * say, whatever {@code tokenizer.json}'s post-processor adds (Llama-3's {@code <|begin_of_text|>}).
     */
    public int[] encodePrompt(String text) {
        if (config.addBosToken() == null) {
            return encode(text, true);
        }
        int[] ids = encode(text, false);
        if (!config.addBosToken()) {
            return ids;
        }
        int bos = specialId(config.bosToken(), "bos_token");
        if (ids.length > 0 && ids[0] == bos) {
            return ids;
        }
        int[] out = new int[ids.length + 1];
        out[0] = bos;
        System.arraycopy(ids, 0, out, 1, ids.length);
        return out;
    }

    /**
     * One user message through the chat template, ready for the assistant's answer; the template writes
     * the special tokens, so none is added here (as {@code apply_chat_template} tokenizes).
     */
    public int[] encodeChat(String userMessage) {
        String text = ChatTemplate.of(config).render(List.of(new ChatTemplate.Message("user", userMessage)), true);
        return encode(text, false);
    }

    /** The end-of-sequence id that {@code eos_token} names, or {@code fallback} when it names none. */
    public int eosId(int fallback) {
        return config.eosToken() == null ? fallback : specialId(config.eosToken(), "eos_token");
    }

    private int specialId(String token, String field) {
        if (token == null) {
            throw new IllegalArgumentException(TokenizerConfig.FILE + ": " + field + " is not set");
        }
        int[] ids = encode(token, false);
        if (ids.length != 1) {
            throw new IllegalArgumentException(TokenizerConfig.FILE + ": " + field + " '" + token + "' is not one token of tokenizer.json"
                    + " (it encodes to " + ids.length + ")");
        }
        return ids[0];
    }

    private int[] encode(String text, boolean addSpecialTokens) {
        Encoding e = tokenizer.encode(text, addSpecialTokens, false);
        long[] ids = e.getIds();
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            out[i] = Math.toIntExact(ids[i]);
        }
        return out;
    }

    /** Text of token ids, special tokens kept. */
    public String decode(int[] ids) {
        return decode(ids, false);
    }

    /** Text of token ids, special tokens skipped when {@code skipSpecialTokens}. */
    public String decode(int[] ids, boolean skipSpecialTokens) {
        long[] l = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            l[i] = ids[i];
        }
        return tokenizer.decode(l, skipSpecialTokens);
    }

    /** Text of one token (for streaming, {@link TextStream} spaces pieces as the whole text does). */
    public String decode(int id) {
        return decode(new int[] {id});
    }

    @Override
    public void close() {
        tokenizer.close();
    }
}

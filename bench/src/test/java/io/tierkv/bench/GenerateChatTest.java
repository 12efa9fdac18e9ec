package io.tierkv.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tierkv.core.DType;
import io.tierkv.model.io.TextTokenizer;
import io.tierkv.model.llama.LlamaCheckpoint;
import io.tierkv.model.llama.LlamaConfig;
import io.tierkv.model.llama.LlamaWeights;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code tierkv generate --chat} on a BF16 Qwen2 checkpoint in the Hugging Face layout, written here with
 * SentencePiece-style pieces: the chat template is applied and the streamed text is spaced as the whole
 * decoded text is.
 */
class GenerateChatTest {
    private static final String[] PIECES = {"<unk>", "<s>", "</s>", "<|user|>", "<|assistant|>", "\u2581the", "\u2581cat", "s",
        "\u2581sat", "\u2581on", "\u2581mat", "ed", "\u2581a", "ing", "\u2581dog", "ly"};

    @TempDir
    Path dir;

    private void writeModel(Path d) throws IOException {
        LlamaConfig config = new LlamaConfig(32, 64, 2, 4, 2, 8, PIECES.length, 256, 1e-6, 1e6, null, true, 1, 2,
                LlamaConfig.Architecture.QWEN2, true, 0);
        try (LlamaWeights w = LlamaWeights.random(config, 4, 0.2, false)) {
            LlamaCheckpoint.save(d, w, DType.BF16);
        }
        StringBuilder vocab = new StringBuilder();
        StringBuilder added = new StringBuilder();
        for (int i = 0; i < PIECES.length; i++) {
            vocab.append(i > 0 ? "," : "").append('"').append(PIECES[i]).append("\":").append(i);
            if (i < 5) {
                added.append(i > 0 ? "," : "").append("{\"id\":").append(i).append(",\"content\":\"").append(PIECES[i])
                        .append("\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":true}");
            }
        }
        String metaspace = "{\"type\":\"Metaspace\",\"replacement\":\"\u2581\",\"prepend_scheme\":\"always\",\"split\":true}";
        Files.writeString(d.resolve("tokenizer.json"), "{\"version\":\"1.0\",\"added_tokens\":[" + added + "],\"normalizer\":null,"
                + "\"pre_tokenizer\":" + metaspace + ",\"post_processor\":null,\"decoder\":" + metaspace + ","
                + "\"model\":{\"type\":\"WordLevel\",\"vocab\":{" + vocab + "},\"unk_token\":\"<unk>\"}}");
        Files.writeString(d.resolve("tokenizer_config.json"), "{\"bos_token\":\"<s>\",\"eos_token\":\"</s>\",\"add_bos_token\":false,"
                + "\"chat_template\":\"{{ bos_token }}{% for m in messages %}<|user|>{{ m['content'] }}</s>{% endfor %}"
                + "{% if add_generation_prompt %}<|assistant|>{% endif %}\"}");
    }

    @Test
    void chat_appliesTheTemplateAndStreamsTheDecodedText() throws IOException {
        Path model = dir.resolve("model");
        writeModel(model);
        Path out = dir.resolve("out");
        CliRun run = CliRun.of("generate", "--model", model.toString(), "--chat", "--prompt", "the cat sat", "--policy", "full",
                "--budget", "1", "--max-tokens", "12", "--temperature", "1", "--seed", "5", "--out", out.toString());
        assertEquals(0, run.rc(), run.err());
        String printed = run.out().lines().findFirst().orElse("");
        JsonNode json = new ObjectMapper().readTree(out.resolve("generate.json").toFile());
        int[] generated = new int[json.get("tokens").size()];
        for (int i = 0; i < generated.length; i++) {
            generated[i] = json.get("tokens").get(i).asInt();
        }
        try (TextTokenizer tok = TextTokenizer.load(model)) {
            int[] prompt = tok.encodeChat("the cat sat");
            // The Metaspace decoder spaces "\u2581the" after a special token, as transformers does.
            assertEquals("<s><|user|> the cat sat</s><|assistant|>", tok.decode(prompt), "the template, one BOS");
            int[] all = Arrays.copyOf(prompt, prompt.length + generated.length);
            System.arraycopy(generated, 0, all, prompt.length, generated.length);
            String whole = tok.decode(all, true);
            String expected = tok.decode(prompt) + whole.substring(tok.decode(prompt, true).length());
            assertEquals(expected, printed);
            StringBuilder perToken = new StringBuilder(tok.decode(prompt));
            for (int t : generated) {
                perToken.append(' ').append(tok.decode(t));
            }
            assertNotEquals(perToken.toString(), printed, "token by token, pieces come out spaced apart");
            assertTrue(json.get("generatedTokens").asInt() > 1);
        }
    }
}

package io.tierkv.bench;

import io.tierkv.core.DType;
import io.tierkv.core.policy.KvPolicy;
import io.tierkv.model.cuda.CudaDecoder;
import io.tierkv.model.generate.GenerationResult;
import io.tierkv.model.generate.Sampler;
import io.tierkv.model.io.TextStream;
import io.tierkv.model.io.TextTokenizer;
import io.tierkv.model.task.AnswerScorer;
import io.tierkv.model.task.ReadingPrompt;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * {@code generate --backend cuda}: the completion from {@link CudaDecoder}, everything on the GPU (weights, KV blocks in the
 * model's dtype, every step's math; greedy picks on the device). Every token stays on the device, so the KV policy and the
 * tiers are not in the loop yet; the command says so in one line when a policy other than {@code full} was asked for.
 */
final class CudaGenerate {
    private final TextTokenizer tok;
    private final boolean chat;
    private final SuitePromptOptions suite;

    CudaGenerate(TextTokenizer tok, boolean chat, SuitePromptOptions suite) {
        this.tok = tok;
        this.chat = chat;
        this.suite = suite;
    }

    void run(Path dir, ReadingPrompt task, String text, int[] ids, KvPolicy policy, int maxTokens, int blockSize, DType kvDtype,
             Sampler sampler, Path out) throws IOException {
        if (!policy.name().equals("full")) {
            System.err.println("tierkv: --backend cuda keeps every KV block on the device (policy full): policy " + policy.name()
                    + " and the tiers run with --backend cpu so far");
        }
        try (CudaDecoder decoder = CudaDecoder.load(dir, ids.length + maxTokens, blockSize, kvDtype)) {
            System.out.print(chat ? tok.decode(ids) : text);
            System.out.flush();
            TextStream stream = TextStream.of(tok, ids);
            GenerationResult g = decoder.generate(ids, maxTokens, tok.eosId(decoder.config().eosTokenId()), sampler, t -> {
                System.out.print(stream.push(t));
                System.out.flush();
            });
            System.out.println();
            String completion = tok.decode(g.tokens());
            if (task != null) {
                boolean[] correct = AnswerScorer.score(task.answerLines(), completion);
                int right = 0;
                for (boolean ok : correct) {
                    right += ok ? 1 : 0;
                }
                System.out.printf(Locale.ROOT, "expected: %s%n%d of %d answers exact (%s)%n", task.answerText(), right, correct.length,
                        suite.describe());
            }
            System.out.printf(Locale.ROOT, "%n%d prompt tokens, %d generated | prefill %.0f tok/s (token by token), decode %.1f tok/s%n",
                    ids.length, g.tokens().length, g.prefillTokensPerSecond(), g.decodeTokensPerSecond());
            System.out.printf(Locale.ROOT, "backend cuda | weights %s on the device, KV %s (%s, blocks of %d tokens), policy full"
                    + " (every token on the device)%n", Bytes.format(decoder.weightBytes()), Bytes.format(decoder.kvBytes()),
                    decoder.kvDtype(), blockSize);
            Map<String, Object> json = new LinkedHashMap<>();
            json.put("backend", "cuda");
            json.put("policy", "full");
            json.put("promptTokens", ids.length);
            json.put("generatedTokens", g.tokens().length);
            json.put("prefillTokensPerSecond", g.prefillTokensPerSecond());
            json.put("decodeTokensPerSecond", g.decodeTokensPerSecond());
            json.put("weightBytes", decoder.weightBytes());
            json.put("kvBytes", decoder.kvBytes());
            json.put("kvDtype", decoder.kvDtype().name());
            json.put("completion", completion);
            json.put("tokens", g.tokens());
            Json.write(out.resolve("generate.json"), json);
        }
    }
}

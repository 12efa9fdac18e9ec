package io.tierkv.model.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.core.DType;
import io.tierkv.core.KvLayout;
import io.tierkv.core.prefix.ModelFingerprint;
import io.tierkv.core.prefix.PrefixNamespace;
import io.tierkv.model.BundledModel;
import io.tierkv.model.cuda.CudaDecoder;
import io.tierkv.model.generate.PrefillMode;
import io.tierkv.model.generate.RedisServer;
import io.tierkv.model.generate.RemoteTally;
import io.tierkv.model.llama.LlamaConfig;
import io.tierkv.model.llama.LlamaWeights;
import io.tierkv.model.task.TaskConfig;
import io.tierkv.model.task.Vocabulary;
import io.tierkv.tiering.remote.RemoteConfig;
import io.tierkv.tiering.remote.RemoteKvTier;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * {@code eval --remote} on a real {@code redis-server}: the policies take turns on each prompt, so every policy
 * after the first finds the prompt's prefix in the store and loads it; the answers are those of a run without the
 * remote tier.
 */
class ReadingEvalRemoteTest {
    private static final int BLOCK = 16;
    static LlamaWeights weights;

    @BeforeAll
    static void model() {
        RedisServer.assumeInstalled();
        LlamaConfig c = new LlamaConfig(32, 64, 2, 4, 2, 8, Vocabulary.get().size(), 1024, 1e-5, 10000.0, null, true, 1, 2);
        weights = LlamaWeights.random(c, 5, 0.1, false);
    }

    @AfterAll
    static void free() {
        if (weights != null) {
            weights.close();
        }
    }

    @ParameterizedTest
    @EnumSource(PrefillMode.class)
    void laterPoliciesLoadThePromptPrefix_andAnswerAsWithoutTheRemoteTier(PrefillMode mode, @TempDir Path dir) throws Exception {
        List<String> policies = List.of("full", "hierarchical");
        EvalSettings s = new EvalSettings(2, policies, 0.5, mode, 11, BLOCK, 40, 8, new TaskConfig(4, 6, 120, 160), false);
        EvalResult plain = new ReadingEval(weights, s, line -> { }).run();
        LlamaConfig c = weights.config;
        KvLayout layout = new KvLayout(c.layers(), c.kvHeads(), c.headDim(), DType.F32, BLOCK);
        try (RedisServer redis = RedisServer.start(dir);
             RemoteKvTier tier = RemoteKvTier.open(RemoteConfig.of(redis.uri()).withLookupTimeout(Duration.ofSeconds(20)),
                     PrefixNamespace.of(ModelFingerprint.ofDescription("random-eval-test seed=5", DType.F32), layout))) {
            ReadingEval eval = new ReadingEval(weights, s, line -> { }).remote(tier);
            EvalResult remote = eval.run();
            RemoteTally t = eval.remoteTally();
            assertEquals(policies.size() * 2 * 2, t.prompts(), "policies x positions x prompts, warm-up runs not counted");
            // Writes are asynchronous, so a later policy may miss a block still in flight; at least one loads.
            assertTrue(t.promptsWithHits() >= 1 && t.prefillTokensSkipped() > 0, "skipped " + t.prefillTokensSkipped());
            assertEquals(t.promptTokens(), t.prefillTokensSkipped() + t.prefillTokensComputed());
            assertEquals(0, tier.stats().invalid());
            assertSameAnswers(plain, remote);
        }
    }

    /** The same on the CUDA decoder's runner, on the host mirror of the device, with the bundled model's KV dtype. */
    @ParameterizedTest
    @EnumSource(PrefillMode.class)
    void onTheCudaDecoder_laterPoliciesLoadThePromptPrefix_andAnswerAsWithoutTheRemoteTier(PrefillMode mode, @TempDir Path dir)
            throws Exception {
        Path model = BundledModel.directory();
        LlamaConfig c = LlamaConfig.readDir(model);
        List<String> policies = List.of("full", "hierarchical");
        EvalSettings s = new EvalSettings(1, policies, 0.25, mode, 20261130, BLOCK, 32, 24, new TaskConfig(4, 8, 200, 240), true, 1);
        EvalResult plain = ReadingEval.onCuda(model, c, s, line -> { }, null, true).warmUps(0).run();
        KvLayout layout = CudaDecoder.kvLayout(model, BLOCK, null);
        try (RedisServer redis = RedisServer.start(dir);
             RemoteKvTier tier = RemoteKvTier.open(RemoteConfig.of(redis.uri()).withLookupTimeout(Duration.ofSeconds(20)),
                     PrefixNamespace.of(ModelFingerprint.ofDescription("bundled-cuda-eval-test", layout.dtype()), layout))) {
            ReadingEval eval = ReadingEval.onCuda(model, c, s, line -> { }, null, true).warmUps(0).remote(tier);
            EvalResult remote = eval.run();
            RemoteTally t = eval.remoteTally();
            assertEquals(policies.size() * 2, t.prompts(), "policies x positions");
            assertTrue(t.promptsWithHits() >= 1 && t.prefillTokensSkipped() > 0, "skipped " + t.prefillTokensSkipped());
            assertEquals(t.promptTokens(), t.prefillTokensSkipped() + t.prefillTokensComputed());
            assertEquals(0, tier.stats().invalid());
            assertSameAnswers(plain, remote);
        }
    }

    /** Prompt by prompt, the same tokens generated and the same answers scored. */
    private static void assertSameAnswers(EvalResult plain, EvalResult remote) {
        assertEquals(plain.prompts().size(), remote.prompts().size());
        for (int i = 0; i < plain.prompts().size(); i++) {
            EvalResult.PromptLine a = plain.prompts().get(i);
            EvalResult.PromptLine b = remote.prompts().get(i);
            assertEquals(a.policy() + a.position() + a.prompt(), b.policy() + b.position() + b.prompt());
            assertEquals(a.generatedTokens(), b.generatedTokens(), "prompt " + i);
            assertArrayEquals(a.rounds().get(0).correct(), b.rounds().get(0).correct(), "prompt " + i);
        }
    }
}

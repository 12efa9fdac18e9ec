package io.tierkv.model.llama;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.model.BundledModel;
import io.tierkv.model.cuda.DecoderFixture;
import io.tierkv.model.eval.EvalSettings;
import io.tierkv.model.generate.Sampler;
import io.tierkv.model.task.QuestionPosition;
import io.tierkv.model.task.QuestionType;
import io.tierkv.model.task.ReadingPrompt;
import io.tierkv.model.task.ReadingTask;
import io.tierkv.model.task.TaskConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

/**
 * The libtorch CPU decoder (dense recomputation, {@link LlamaForward}) greedy on the bundled model for three of the
 * demo's prompts equals the committed {@link DecoderFixture}, the oracle of the CUDA decoder's GPU test. Rewrite the
 * fixture after retraining the bundled model with
 * {@code mvn -o -B -pl model -am test -Dtest=CpuDecoderFixtureTest -Dsurefire.failIfNoSpecifiedTests=false -Dtierkv.fixture.write=true}.
 */
class CpuDecoderFixtureTest {
    /** Same libtorch, same weights: only thread count and BLAS kernels can move the logits. */
    static final double CPU_LOGIT_TOLERANCE = 1e-4;

    @Test
    void cpuGreedyDecoding_onTheDemoPrompts_equalsTheFixture() {
        if (Boolean.getBoolean(DecoderFixture.WRITE_PROPERTY)) {
            Path file = Files.isDirectory(Path.of("model")) ? Path.of("model").resolve(DecoderFixture.SOURCE) : Path.of(DecoderFixture.SOURCE);
            compute().write(file);
            System.err.println("wrote " + file.toAbsolutePath());
            return;
        }
        DecoderFixture fixture = DecoderFixture.load();
        List<ReadingPrompt> prompts = prompts();
        assertEquals(prompts.size(), fixture.cases().size());
        try (LlamaWeights w = LlamaCheckpoint.load(BundledModel.directory())) {
            LlamaForward forward = new LlamaForward(w);
            for (int i = 0; i < prompts.size(); i++) {
                DecoderFixture.Case want = fixture.cases().get(i);
                assertArrayEquals(prompts.get(i).prompt(), want.prompt(), want.name() + ": the demo's prompt changed");
                checkTeacherForced(forward, want);
            }
        }
    }

    /**
     * One causal pass over the prompt and the fixture's tokens (but the last) gives every step's logits at once: each
     * step's argmax must be the fixture's next token, and the final row its last-step logits.
     */
    private static void checkTeacherForced(LlamaForward forward, DecoderFixture.Case want) {
        int p = want.prompt().length;
        int n = want.tokens().length;
        int[] seq = Arrays.copyOf(want.prompt(), p + n - 1);
        System.arraycopy(want.tokens(), 0, seq, p, n - 1);
        try (Tensor ids = Tensors.fromInts(seq, 1, seq.length); Tensor all = forward.logits(ids)) {
            float[] flat = Tensors.toFloats(all.contiguous().view(-1));
            int vocab = want.lastLogits().length;
            float[] row = null;
            for (int i = 0; i < n; i++) {
                row = Arrays.copyOfRange(flat, (p - 1 + i) * vocab, (p + i) * vocab);
                assertEquals(want.tokens()[i], Sampler.argmax(row), want.name() + ": greedy token " + i);
            }
            double diff = DecoderFixture.maxAbsDiff(want.lastLogits(), row);
            assertTrue(diff <= CPU_LOGIT_TOLERANCE, want.name() + ": last-step logits differ by " + diff);
        }
        assertTrue(want.minMargin() > 2 * DecoderFixture.GPU_LOGIT_TOLERANCE, want.name() + ": the greedy margin " + want.minMargin()
                + " is too thin to demand the same tokens of a backend within " + DecoderFixture.GPU_LOGIT_TOLERANCE);
    }

    static final List<String> NAMES = List.of("fill_blank/before #0", "fill_blank/after #1", "multiple_choice/before #2");

    /** Three of the demo's held-out prompts (its seed): fill-in before and after the passage, multiple choice before. */
    static List<ReadingPrompt> prompts() {
        ReadingTask task = new ReadingTask(TaskConfig.eval());
        return List.of(task.prompt(EvalSettings.DEFAULT_SEED, 0, QuestionType.FILL_BLANK, QuestionPosition.BEFORE),
                task.prompt(EvalSettings.DEFAULT_SEED, 1, QuestionType.FILL_BLANK, QuestionPosition.AFTER),
                task.prompt(EvalSettings.DEFAULT_SEED, 2, QuestionType.MULTIPLE_CHOICE, QuestionPosition.BEFORE));
    }

    /** The fixture as the CPU decoder computes it now: greedy, one dense pass per generated token (slow; writing only). */
    static DecoderFixture compute() {
        List<DecoderFixture.Case> cases = new ArrayList<>();
        try (LlamaWeights w = LlamaCheckpoint.load(BundledModel.directory())) {
            LlamaForward forward = new LlamaForward(w);
            List<ReadingPrompt> prompts = prompts();
            for (int i = 0; i < prompts.size(); i++) {
                cases.add(greedy(forward, NAMES.get(i), prompts.get(i).prompt()));
            }
            String model = w.config.hiddenSize() + "d x " + w.config.layers() + " layers, vocab " + w.config.vocabSize();
            return new DecoderFixture(model, cases);
        }
    }

    private static DecoderFixture.Case greedy(LlamaForward forward, String name, int[] prompt) {
        int[] seq = Arrays.copyOf(prompt, prompt.length + DecoderFixture.NEW_TOKENS);
        float[] logits = null;
        double margin = Double.POSITIVE_INFINITY;
        for (int n = prompt.length; n < seq.length; n++) {
            try (Tensor ids = Tensors.fromInts(Arrays.copyOf(seq, n), 1, n); Tensor all = forward.logits(ids)) {
                logits = Tensors.toFloats(all.select(1, n - 1).contiguous().view(-1));
            }
            seq[n] = Sampler.argmax(logits);
            margin = Math.min(margin, DecoderFixture.margin(logits));
        }
        return new DecoderFixture.Case(name, prompt, Arrays.copyOfRange(seq, prompt.length, seq.length), logits, margin);
    }
}

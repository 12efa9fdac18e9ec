package io.tierkv.model.train;

import io.tierkv.core.DType;
import io.tierkv.model.io.WordLevelTokenizerJson;
import io.tierkv.model.llama.LlamaCheckpoint;
import io.tierkv.model.llama.LlamaConfig;
import io.tierkv.model.llama.LlamaForward;
import io.tierkv.model.llama.LlamaWeights;
import io.tierkv.model.llama.Tensors;
import io.tierkv.model.task.QuestionType;
import io.tierkv.model.task.ReadingTask;
import io.tierkv.model.task.TaskConfig;
import io.tierkv.model.task.Vocabulary;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.function.Consumer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.AdamW;
import org.bytedeco.pytorch.AdamWOptions;
import org.bytedeco.pytorch.CrossEntropyLossOptions;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

/**
 * Trains a small Llama-architecture model on the reading-comprehension suite with libtorch autograd and
 * writes it in the Hugging Face layout (config.json, model.safetensors, tokenizer.json) with its log.
 *
 * <p>Every batch is freshly generated, so the running line accuracy on training batches is also a
 * held-out estimate: no prompt is seen twice. The curriculum ({@link Curriculum}) moves on when the
 * recent line accuracy reaches {@code advanceAt}. Temporaries are freed every step (a PointerScope).
 */
public final class Trainer {
    private static final int WINDOW = 50;

    private final TrainConfig cfg;
    private final Consumer<String> progress;

    public Trainer(TrainConfig cfg, Consumer<String> progress) {
        this.cfg = cfg;
        this.progress = progress;
    }

    /** The model configuration for the suite's vocabulary. */
    public static LlamaConfig modelConfig(TrainConfig cfg) {
        Vocabulary v = Vocabulary.get();
        return new LlamaConfig(cfg.hidden(), cfg.intermediate(), cfg.layers(), cfg.heads(), cfg.kvHeads(),
                cfg.hidden() / cfg.heads(), v.size(), 2048, 1e-5, 10000.0, null, true,
                v.id(Vocabulary.BOS), v.id(Vocabulary.EOS));
    }

    /** Runs the training and writes the model; returns the final recent line accuracy. */
    public double run() {
        torch.set_num_threads(cfg.threads());
        LlamaConfig config = modelConfig(cfg);
        List<Curriculum.Stage> stages = Curriculum.stages();
        SplittableRandom rnd = new SplittableRandom(cfg.seed());
        try (LlamaWeights weights = initialWeights(config);
             PrintWriter log = openLog()) {
            LlamaForward forward = new LlamaForward(weights);
            TensorVector params = weights.parameters();
            AdamWOptions options = new AdamWOptions(cfg.lr());
            options.weight_decay().put(0.01);
            AdamW optimizer = new AdamW(params, options);
            CrossEntropyLossOptions ce = new CrossEntropyLossOptions();
            ce.ignore_index().put(Batch.IGNORE);

            progress.accept(String.format(Locale.ROOT, "training %,d parameters, %d layers x %d wide, batch %d, %d steps on the full task"
                    + " once the curriculum reaches it (at most %d in all)",
                    weights.parameterCount(), cfg.layers(), cfg.hidden(), cfg.batch(), cfg.finalSteps(), cfg.maxSteps()));
            log.println("step,stage,loss,lineAccuracy,recentLineAccuracy,lr,tokens,seconds");
            if (cfg.init() != null) {
                progress.accept("starting from " + cfg.init() + " in stage " + cfg.startStage() + " " + stages.get(cfg.startStage()));
            }
            int stage = cfg.startStage();
            int stageSteps = 0;
            double[] recent = new double[WINDOW];
            int recentCount = 0;
            double recentAcc = 0;
            long start = System.nanoTime();
            long tokens = 0;
            int[] typeCorrect = new int[QuestionType.values().length];
            int[] typeTotal = new int[QuestionType.values().length];
            int last = stages.size() - 1;
            int step = 0;
            while (step < cfg.maxSteps() && !(stage == last && stageSteps >= cfg.finalSteps())) {
                step++;
                Curriculum.Stage st = stages.get(stage);
                Batch batch = Batch.pad(stepRows(st, rnd, cfg.batch(), cfg.repeatShare()));
                double lr = learningRate(step, stage == last ? stageSteps : -1);
                optimizer.param_groups().get(0).options().set_lr(lr);
                float loss;
                double lineAcc;
                try (PointerScope scope = new PointerScope()) {
                    Tensor input = Tensors.fromLongs(batch.inputs(), batch.rows(), batch.length());
                    Tensor target = Tensors.fromLongs(batch.targets(), (long) batch.rows() * batch.length());
                    Tensor logits = forward.logits(input).view(-1, config.vocabSize());
                    Tensor lossT = torch.cross_entropy(logits, target, ce);
                    optimizer.zero_grad();
                    lossT.backward();
                    torch.clip_grad_norm_(params, 1.0);
                    optimizer.step();
                    loss = lossT.item_float();
                    int[][] counts = lineCounts(batch, logits.detach().argmax(new org.bytedeco.pytorch.LongOptional(-1), false));
                    lineAcc = counts[0][1] == 0 ? 0 : counts[0][0] / (double) counts[0][1];
                    for (int t = 0; t < typeCorrect.length; t++) {
                        typeCorrect[t] += counts[1 + t][0];
                        typeTotal[t] += counts[1 + t][1];
                    }
                }
                tokens += (long) batch.rows() * batch.length();
                recent[(recentCount++) % WINDOW] = lineAcc;
                recentAcc = mean(recent, Math.min(recentCount, WINDOW));
                stageSteps++;
                double seconds = (System.nanoTime() - start) / 1e9;
                log.printf(Locale.ROOT, "%d,%d,%.5f,%.4f,%.4f,%.6f,%d,%.1f%n", step, stage, loss, lineAcc, recentAcc, lr, tokens, seconds);
                log.flush();
                if (step % 25 == 0) {
                    progress.accept(String.format(Locale.ROOT, "step %5d  stage %d  loss %.4f  line acc %.3f (recent %.3f; %s)  %.0f tok/s  %.0fs",
                            step, stage, loss, lineAcc, recentAcc, byType(typeCorrect, typeTotal), tokens / seconds, seconds));
                    java.util.Arrays.fill(typeCorrect, 0);
                    java.util.Arrays.fill(typeTotal, 0);
                }
                // Move on when the stage is learned; a stage that will not be learned gives way after three times its share.
                boolean advance = recentCount >= WINDOW && recentAcc >= cfg.advanceAt() || stageSteps >= 3 * cfg.maxStageSteps();
                if (advance && stage < stages.size() - 1) {
                    stage++;
                    stageSteps = 0;
                    recentCount = 0;
                    progress.accept("curriculum: stage " + stage + " " + stages.get(stage));
                }
                if (step % 20 == 0) {
                    save(weights);
                }
            }
            save(weights);
            progress.accept(String.format(Locale.ROOT, "finished after %d steps (%d in the last stage), %.0f s", step, stageSteps,
                    (System.nanoTime() - start) / 1e9));
            return recentAcc;
        }
    }

    /**
     * The rows of one training step in stage {@code st}: a length bucket, then {@code batch} rows of the
     * stage's mixture. The trainer and {@link TrainingData} both draw through here, so an export holds
     * exactly the rows a run with the same seed trains on.
     */
    static Batch.Row[] stepRows(Curriculum.Stage st, SplittableRandom rnd, int batch, double repeatShare) {
        ReadingTask task = new ReadingTask(st.lengthBuckets() == 1 ? st.task() : st.bucket(rnd.nextInt(st.lengthBuckets())));
        return Batch.drawRows(task, rnd, batch, new Batch.Mix(repeatShare * st.warmupScale(), st.multiRoundShare(), st.maxRounds()));
    }

    /**
     * Linear warm-up, constant while the curriculum climbs, then a cosine to 10% over the last stage's
     * {@code finalSteps}: the run is as long as the curriculum needs, and ends annealed on the real task.
     *
     * @param finalStageStep steps already taken in the last stage, or -1 before it
     */
    private double learningRate(int step, int finalStageStep) {
        if (step <= cfg.warmup()) {
            return cfg.lr() * step / cfg.warmup();
        }
        if (finalStageStep < 0) {
            return cfg.lr();
        }
        double p = Math.min(1.0, finalStageStep / (double) cfg.finalSteps());
        return cfg.lr() * (0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * p)));
    }

    /** Share of answer lines whose every token (the closing ";" included) is the argmax. */
    static double lineAccuracy(Batch b, Tensor argmax) {
        int[][] counts = lineCounts(b, argmax);
        return counts[0][1] == 0 ? 0 : counts[0][0] / (double) counts[0][1];
    }

    /**
     * Correct and total answer lines: row 0 over all types, row 1 + t for question type t. A line is
     * correct when every token of it, the closing ";" included, is the argmax (with teacher forcing this is
     * exactly whether greedy decoding would reproduce it).
     */
    static int[][] lineCounts(Batch b, Tensor argmax) {
        long[] pred = new long[b.rows() * b.length()];
        new LongPointer(argmax.contiguous().data_ptr_long()).get(pred);
        int[][] counts = new int[1 + QuestionType.values().length][2];
        for (int i = 0; i < pred.length; i++) {
            if (b.lineEnd()[i] > 0) {
                boolean ok = true;
                for (int j = b.lineEnd()[i] - 1; j <= i; j++) {
                    ok &= pred[j] == b.targets()[j];
                }
                int type = b.lineType()[i];
                for (int row : new int[] {0, 1 + type}) {
                    counts[row][1]++;
                    if (ok) {
                        counts[row][0]++;
                    }
                }
            }
        }
        return counts;
    }

    private static String byType(int[] correct, int[] total) {
        StringBuilder sb = new StringBuilder();
        for (QuestionType t : QuestionType.values()) {
            int i = t.ordinal();
            sb.append(sb.length() == 0 ? "" : " ").append(t.shortName()).append(' ')
                    .append(total[i] == 0 ? "-" : String.format(Locale.ROOT, "%.2f", correct[i] / (double) total[i]));
        }
        return sb.toString();
    }

    /** Random weights, or the weights of {@code cfg.init()} made trainable (their shape must be this config's). */
    private LlamaWeights initialWeights(LlamaConfig config) {
        if (cfg.init() == null) {
            return LlamaWeights.random(config, cfg.seed(), 0.02, true);
        }
        try (LlamaWeights loaded = LlamaCheckpoint.load(cfg.init())) {
            if (!loaded.config.equals(config)) {
                throw new IllegalArgumentException("the model in " + cfg.init() + " is not shaped as this run's: "
                        + loaded.config + " vs " + config);
            }
            // The loaded matrices are views over the read-only file mapping: train a copy.
            return loaded.trainableCopy();
        }
    }

    private void save(LlamaWeights weights) {
        Path out = cfg.out();
        LlamaCheckpoint.save(out, weights, DType.F32);
        Vocabulary v = Vocabulary.get();
        WordLevelTokenizerJson.write(out.resolve("tokenizer.json"), v.words(),
                Set.of(Vocabulary.PAD, Vocabulary.BOS, Vocabulary.EOS, Vocabulary.UNK), Vocabulary.UNK);
    }

    private PrintWriter openLog() {
        try {
            Files.createDirectories(cfg.out());
            return new PrintWriter(Files.newBufferedWriter(cfg.out().resolve("train.log"),
                    StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the training log in " + cfg.out(), e);
        }
    }

    private static double mean(double[] a, int n) {
        double s = 0;
        for (int i = 0; i < n; i++) {
            s += a[i];
        }
        return n == 0 ? 0 : s / n;
    }
}

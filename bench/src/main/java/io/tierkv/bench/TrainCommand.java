package io.tierkv.bench;

import io.tierkv.model.BundledModel;
import io.tierkv.model.train.TrainConfig;
import io.tierkv.model.train.Trainer;
import io.tierkv.model.train.TrainingData;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code tierkv train}: trains the bundled model on the reading-comprehension suite. */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = {"Train a small Llama-architecture model on the reading-comprehension suite, with libtorch autograd on"
            + " the CPU; writes the Hugging Face layout (config.json, model.safetensors, tokenizer.json) and train.log.",
            "To refresh the bundled model: tierkv train --out " + BundledModel.SOURCE_DIR + " && mvn package",
            "With --export-data FILE it trains nothing: it writes the first --examples rows the last curriculum stage would"
            + " train on with this --seed and --batch (safetensors, for model/src/main/python/train_gpu.py)."})
final class TrainCommand implements Callable<Integer> {
    @Option(names = "--out", paramLabel = "DIR", defaultValue = "out/model", description = "Output directory (default: ${DEFAULT-VALUE}).")
    Path out;

    @Option(names = "--steps", defaultValue = "12000", description = "At most this many steps in all (default: ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--final-steps", defaultValue = "300",
            description = "Steps on the full task once the curriculum reaches it, annealing the learning rate (default: ${DEFAULT-VALUE}).")
    int finalSteps;

    @Option(names = "--seed", defaultValue = "1", description = "Seed of weights and data (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--batch", defaultValue = "32", description = "Prompts per step (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--lr", defaultValue = "1.5e-3", description = "Peak AdamW learning rate (default: ${DEFAULT-VALUE}).")
    double lr;

    @Option(names = "--hidden", defaultValue = "128", description = "Model width (default: ${DEFAULT-VALUE}).")
    int hidden;

    @Option(names = "--layers", defaultValue = "4", description = "Decoder layers (default: ${DEFAULT-VALUE}).")
    int layers;

    @Option(names = "--threads", description = "libtorch threads (default: all cores).")
    Integer threads;

    @Option(names = "--warmup", description = "Linear learning-rate warm-up steps (default: 200).")
    Integer warmup;

    @Option(names = "--init", paramLabel = "DIR",
            description = "Start from this model's weights (same shape) instead of random ones: a continuation.")
    Path init;

    @Option(names = "--start-stage", defaultValue = "0",
            description = "Curriculum stage to start in (default: ${DEFAULT-VALUE}; the last is the multi-round, wide-length stage).")
    int startStage;

    @Option(names = "--export-data", paramLabel = "FILE",
            description = "Write the last stage's training rows to FILE (safetensors) instead of training.")
    Path exportData;

    @Option(names = "--examples", description = "Rows to export with --export-data (default: 49152, about 38 MiB).")
    Integer examples;

    @Override
    public Integer call() {
        TrainConfig d = TrainConfig.defaults(out);
        if (exportData != null) {
            return export(d);
        }
        if (examples != null) {
            throw new IllegalArgumentException("--examples only goes with --export-data");
        }
        if (steps <= 0 || finalSteps <= 0 || batch <= 0 || hidden <= 0 || layers <= 0 || !(lr > 0)) {
            throw new IllegalArgumentException("--steps, --final-steps, --batch, --hidden, --layers and --lr must be > 0");
        }
        if (threads != null) {
            Options.positive("--threads", threads);
        }
        OutputOption.writableDirectory("--out", out);
        if (warmup != null && warmup <= 0) {
            throw new IllegalArgumentException("--warmup must be > 0, was " + warmup);
        }
        if (hidden % d.heads() != 0) {
            throw new IllegalArgumentException("--hidden must be a multiple of " + d.heads() + " heads, was " + hidden);
        }
        TrainConfig cfg = new TrainConfig(seed, hidden, layers, d.heads(), d.kvHeads(), hidden * d.intermediate() / d.hidden(),
                batch, lr, warmup == null ? d.warmup() : warmup, steps, finalSteps, d.advanceAt(), d.maxStageSteps(), d.repeatShare(), threads == null ? d.threads() : threads, out, init, startStage);
        ModelOptions.warnIfSpinning();
        long t0 = System.nanoTime();
        double acc = new Trainer(cfg, System.err::println).run(); // progress on stderr, the result on stdout
        System.out.printf(Locale.ROOT, "done in %.0f s; recent line accuracy %.3f; model written to %s%n",
                (System.nanoTime() - t0) / 1e9, acc, out.toAbsolutePath());
        return 0;
    }

    private int export(TrainConfig d) {
        int rows = examples == null ? 49152 : Options.positive("--examples", examples);
        Options.positive("--batch", batch);
        OutputOption.writableFile("--export-data", exportData);
        TrainingData.Summary s = TrainingData.export(exportData, rows, seed, batch, d.repeatShare());
        System.out.println(TrainingData.describe(s, exportData));
        return 0;
    }
}

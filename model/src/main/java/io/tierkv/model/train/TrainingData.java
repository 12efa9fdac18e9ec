package io.tierkv.model.train;

import io.tierkv.model.io.SafeTensorsWriter;
import io.tierkv.model.task.Vocabulary;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Exports the rows the trainer would train on in the curriculum's last stage (1-round and multi-round
 * prompts, passages up to twice the evaluation length, the warm-up rows) to a safetensors file, so that
 * another trainer (model/src/main/python/train_gpu.py, on a GPU) fits exactly the task this one does.
 *
 * <p>The rows are drawn through {@link Trainer#stepRows}, step by step from {@code new SplittableRandom(seed)}:
 * the first {@code examples} rows of a run {@code tierkv train --init DIR --start-stage <last> --seed S --batch B}.
 * Layout (flat, rows concatenated, no padding):
 * <pre>
 *   tokens     I16 [total]    each row's whole sequence; its inputs are all but its last token
 *   supervised U8  [total]    1 where the prediction of the next token is in the loss (the trainer's
 *                             target there is tokens[i + 1]; elsewhere its target is -100, ignored);
 *                             0 at every row's last token
 *   offsets    I64 [rows + 1] row r is tokens[offsets[r] : offsets[r + 1]]; its input length is that minus 1
 *   kind       U8  [rows]     0 a prompt and its answers, 1 a repeated sequence, 2 value comparisons (warm-up)
 *   rounds     U8  [rows]     a prompt's rounds (1 to 3), 0 for warm-up rows
 *   metadata: format, version, seed, batch, stage, vocab_size, pad_id, semicolon_id
 * </pre>
 * About 3 bytes a token: 16,384 rows of the last stage are about 35 MiB.
 */
public final class TrainingData {
    public static final String FORMAT = "tierkv-train-data";
    public static final String VERSION = "1";

    private TrainingData() {
    }

    /** What was written. */
    public record Summary(int rows, long tokens, long supervised, long bytes) {
    }

    /**
     * Draws {@code examples} rows of the last curriculum stage in steps of {@code batch} rows from
     * {@code seed}, as the trainer does, and writes them to {@code file}.
     */
    public static Summary export(Path file, int examples, long seed, int batch, double repeatShare) {
        if (examples <= 0 || batch <= 0) {
            throw new IllegalArgumentException("examples and batch must be > 0, were " + examples + " and " + batch);
        }
        Curriculum.Stage stage = Curriculum.stages().get(Curriculum.stages().size() - 1);
        Batch.Row[] rows = rows(stage, examples, seed, batch, repeatShare);
        long total = 0;
        for (Batch.Row r : rows) {
            total += r.tokens().length;
        }
        if (total > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(examples + " examples hold " + total + " tokens, too many for one file");
        }
        short[] tokens = new short[(int) total];
        byte[] supervised = new byte[(int) total];
        long[] offsets = new long[rows.length + 1];
        byte[] kind = new byte[rows.length];
        byte[] rounds = new byte[rows.length];
        long supervisedCount = 0;
        int at = 0;
        for (int r = 0; r < rows.length; r++) {
            Batch.Row row = rows[r];
            int[] t = row.tokens();
            for (int i = 0; i < t.length; i++) {
                tokens[at + i] = (short) t[i];
                boolean sup = i < t.length - 1 && row.supervised()[i];
                supervised[at + i] = (byte) (sup ? 1 : 0);
                supervisedCount += sup ? 1 : 0;
            }
            at += t.length;
            offsets[r + 1] = at;
            kind[r] = (byte) row.kind();
            rounds[r] = (byte) row.rounds();
        }
        Vocabulary v = Vocabulary.get();
        new SafeTensorsWriter()
                .metadata("format", FORMAT).metadata("version", VERSION)
                .metadata("seed", Long.toString(seed)).metadata("batch", Integer.toString(batch))
                .metadata("stage", stage.toString())
                .metadata("vocab_size", Integer.toString(v.size()))
                .metadata("pad_id", Integer.toString(v.id(Vocabulary.PAD)))
                .metadata("semicolon_id", Integer.toString(v.id(";")))
                .addI16("tokens", tokens, new long[] {total})
                .addU8("supervised", supervised, new long[] {total})
                .addI64("offsets", offsets, new long[] {offsets.length})
                .addU8("kind", kind, new long[] {kind.length})
                .addU8("rounds", rounds, new long[] {rounds.length})
                .write(file);
        try {
            return new Summary(rows.length, total, supervisedCount, Files.size(file));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the size of " + file, e);
        }
    }

    /** The first {@code examples} rows of the trainer's steps in {@code stage} from {@code seed}. */
    static Batch.Row[] rows(Curriculum.Stage stage, int examples, long seed, int batch, double repeatShare) {
        if (Vocabulary.get().size() > Short.MAX_VALUE) {
            throw new IllegalStateException("a vocabulary of " + Vocabulary.get().size() + " words does not fit int16 ids");
        }
        SplittableRandom rnd = new SplittableRandom(seed);
        Batch.Row[] out = new Batch.Row[examples];
        for (int n = 0; n < examples; ) {
            for (Batch.Row row : Trainer.stepRows(stage, rnd, batch, repeatShare)) {
                if (n < examples) {
                    out[n++] = row;
                }
            }
        }
        return out;
    }

    /** One line for the CLI. */
    public static String describe(Summary s, Path file) {
        return String.format(Locale.ROOT, "wrote %,d rows (%,d tokens, %,d supervised) to %s: %.1f MiB",
                s.rows(), s.tokens(), s.supervised(), file, s.bytes() / (1024.0 * 1024));
    }
}

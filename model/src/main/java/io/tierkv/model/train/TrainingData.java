package io.tierkv.model.train;

import io.tierkv.model.io.SafeTensorsWriter;
import io.tierkv.model.task.Vocabulary;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Exports the rows the trainer would train on in the curriculum's last stage (1-round and multi-round
 * prompts, passages up to twice the evaluation length, the warm-up rows) to a safetensors file, so that
 * another trainer (model/src/main/python/train_gpu.py, on a GPU) fits exactly the task this one does.
 *
 * <p>The rows are drawn through {@link Trainer#stepRows}, step by step from {@code new SplittableRandom(seed)}:
 * the first {@code examples} rows of a run {@code tierkv train --init DIR --start-stage <last> --seed S --batch B}.
 * Layout (flat, rows concatenated, no padding; about 1 byte a token, so 40 MiB hold some 55,000 rows):
 * <pre>
 *   tokens   U8  [total]     each row's whole sequence (I16 should the vocabulary pass 256 words); a
 *                            row's inputs are all but its last token
 *   offsets  I64 [rows + 1]  row r is tokens[offsets[r] : offsets[r + 1]]; its input length is that minus 1
 *   spans    I64 [n, 2]      the supervised positions, as [begin, end) runs of indices into tokens, in
 *                            order, each inside one row and short of its last token: at a position i in a
 *                            run the trainer's target is tokens[i + 1]; everywhere else it is -100, ignored
 *   kind     U8  [rows]      0 a prompt and its answers, 1 a repeated sequence, 2 value comparisons (warm-up)
 *   rounds   U8  [rows]      a prompt's rounds (1 to 3), 0 for warm-up rows
 *   metadata: format, version, seed, batch, stage, vocab_size, pad_id, semicolon_id
 * </pre>
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
        int[] tokens = new int[(int) total];
        long[] offsets = new long[rows.length + 1];
        LongList spans = new LongList();
        byte[] kind = new byte[rows.length];
        byte[] rounds = new byte[rows.length];
        long supervisedCount = 0;
        int at = 0;
        for (int r = 0; r < rows.length; r++) {
            Batch.Row row = rows[r];
            int[] t = row.tokens();
            System.arraycopy(t, 0, tokens, at, t.length);
            for (int i = 0; i < t.length - 1; i++) {
                if (row.supervised()[i]) {
                    supervisedCount++;
                    if (i == 0 || !row.supervised()[i - 1]) {
                        spans.add(at + i);
                        spans.add(at + i + 1);
                    } else {
                        spans.set(spans.size() - 1, at + i + 1);
                    }
                }
            }
            at += t.length;
            offsets[r + 1] = at;
            kind[r] = (byte) row.kind();
            rounds[r] = (byte) row.rounds();
        }
        Vocabulary v = Vocabulary.get();
        SafeTensorsWriter w = new SafeTensorsWriter();
        if (v.size() <= 256) {
            byte[] b = new byte[tokens.length];
            for (int i = 0; i < b.length; i++) {
                b[i] = (byte) tokens[i];
            }
            w.addU8("tokens", b, new long[] {total});
        } else {
            short[] b = new short[tokens.length];
            for (int i = 0; i < b.length; i++) {
                b[i] = (short) tokens[i];
            }
            w.addI16("tokens", b, new long[] {total});
        }
        w
                .metadata("format", FORMAT).metadata("version", VERSION)
                .metadata("seed", Long.toString(seed)).metadata("batch", Integer.toString(batch))
                .metadata("stage", stage.toString())
                .metadata("vocab_size", Integer.toString(v.size()))
                .metadata("pad_id", Integer.toString(v.id(Vocabulary.PAD)))
                .metadata("semicolon_id", Integer.toString(v.id(";")))
                .addI64("offsets", offsets, new long[] {offsets.length})
                .addI64("spans", spans.toArray(), new long[] {spans.size() / 2, 2})
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

    /** A growable list of longs. */
    private static final class LongList {
        private long[] a = new long[1024];
        private int n;

        void add(long v) {
            if (n == a.length) {
                a = Arrays.copyOf(a, 2 * n);
            }
            a[n++] = v;
        }

        void set(int i, long v) {
            a[i] = v;
        }

        int size() {
            return n;
        }

        long[] toArray() {
            return Arrays.copyOf(a, n);
        }
    }

    /** One line for the CLI. */
    public static String describe(Summary s, Path file) {
        return String.format(Locale.ROOT, "wrote %,d rows (%,d tokens, %,d supervised) to %s: %.1f MiB",
                s.rows(), s.tokens(), s.supervised(), file, s.bytes() / (1024.0 * 1024));
    }
}

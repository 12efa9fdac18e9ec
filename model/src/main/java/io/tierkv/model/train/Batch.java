package io.tierkv.model.train;

import io.tierkv.model.task.QuestionPosition;
import io.tierkv.model.task.QuestionType;
import io.tierkv.model.task.ReadingPrompt;
import io.tierkv.model.task.ReadingRound;
import io.tierkv.model.task.ReadingTask;
import io.tierkv.model.task.Vocabulary;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * One training batch: sequences right-padded to the longest, with the loss on chosen tokens only. Task
 * rows are a prompt and its expected answer, supervised on the answer (the passage is random filler,
 * nothing to learn there). Warm-up rows shape the circuits the task needs and are never evaluated:
 * <ul>
 *   <li>a repeated random word sequence, supervised on the repeat (forward or, half the time, backward):
 *       the classic inducer of induction heads, "copy what followed (or preceded) this token before",
 *       which every lookup in the passage is;</li>
 *   <li>triples {@code value name value' verdict ;}, supervised on the verdict: the comparison of a value
 *       with the claim two tokens back that a true/false answer ends with.</li>
 * </ul>
 *
 * @param inputs  (B * T) token ids, row-major
 * @param targets (B * T) next-token ids where supervised, {@link #IGNORE} elsewhere
 * @param lineEnd (B * T) at the target position of each answer line's closing {@code ;}, the flat index
 *                of the line's first target position plus one; 0 elsewhere (for line accuracy)
 * @param lineType (B * T) at the positions where {@code lineEnd} is set, the question type's ordinal of the line
 */
record Batch(int rows, int length, long[] inputs, long[] targets, int[] lineEnd, int[] lineType) {
    static final int IGNORE = -100;

    /**
     * One sequence with its supervised positions (a position supervises the prediction of the next token).
     *
     * @param tokens     the whole sequence; the batch's inputs are all but its last token
     * @param supervised per token, whether the prediction of the next token is in the loss
     * @param type       per token, the question type's ordinal of the answer it predicts (task rows), else null
     * @param countLines whether the row's answer lines count for line accuracy (task rows)
     * @param kind       what the row is: {@link #TASK}, {@link #REPEAT} or {@link #COMPARE}
     * @param rounds     the task row's rounds, 0 for warm-up rows
     */
    record Row(int[] tokens, boolean[] supervised, int[] type, boolean countLines, int kind, int rounds) {
    }

    /** Row kinds: a prompt and its answers, a repeated sequence, value comparisons. */
    static final int TASK = 0;
    static final int REPEAT = 1;
    static final int COMPARE = 2;

    /**
     * Rounds of a task row: 1, or with probability {@code multiRoundShare} 2 to {@code maxRounds}. The
     * share and the bound are those of the curriculum stage.
     */
    record Mix(double warmupShare, double multiRoundShare, int maxRounds) {
    }

    /** Draws a batch: task rows of mixed types and positions, and a share {@code warmupShare} of warm-up rows. */
    static Batch draw(ReadingTask task, SplittableRandom rnd, int rows, double warmupShare) {
        return draw(task, rnd, rows, new Mix(warmupShare, 0, 1));
    }

    /** Draws a batch as {@link #draw(ReadingTask, SplittableRandom, int, double)}, some task rows multi-round. */
    static Batch draw(ReadingTask task, SplittableRandom rnd, int rows, Mix mix) {
        return pad(drawRows(task, rnd, rows, mix));
    }

    /** The rows {@link #draw(ReadingTask, SplittableRandom, int, Mix)} pads into a batch, drawn the same way. */
    static Row[] drawRows(ReadingTask task, SplittableRandom rnd, int rows, Mix mix) {
        double warmupShare = mix.warmupShare();
        Row[] all = new Row[rows];
        for (int r = 0; r < rows; r++) {
            if (rnd.nextDouble() < warmupShare) {
                all[r] = rnd.nextInt(3) == 0 ? comparisons(rnd, task.config().maxPassageTokens() / 8 + 2)
                        : repeated(rnd, task.config().maxPassageTokens() / 2);
            } else {
                QuestionType type = QuestionType.values()[rnd.nextInt(QuestionType.values().length)];
                QuestionPosition pos = QuestionPosition.values()[rnd.nextInt(2)];
                int rounds = mix.maxRounds() > 1 && rnd.nextDouble() < mix.multiRoundShare()
                        ? 2 + rnd.nextInt(mix.maxRounds() - 1) : 1;
                all[r] = taskRow(task.generate(rnd, type, pos, rounds), rounds);
            }
        }
        return all;
    }

    /** Right-pads rows to the longest input (all but a row's last token), {@link #IGNORE} where unsupervised. */
    static Batch pad(Row[] all) {
        int rows = all.length;
        int length = 0;
        for (Row row : all) {
            length = Math.max(length, row.tokens().length - 1);
        }
        int pad = Vocabulary.get().id(Vocabulary.PAD);
        int semicolon = Vocabulary.get().id(";");
        long[] inputs = new long[rows * length];
        long[] targets = new long[rows * length];
        int[] lineEnd = new int[rows * length];
        int[] lineType = new int[rows * length];
        Arrays.fill(inputs, pad);
        Arrays.fill(targets, IGNORE);
        for (int r = 0; r < rows; r++) {
            Row row = all[r];
            int base = r * length;
            int[] t = row.tokens();
            int lineStart = -1;
            for (int i = 0; i < t.length - 1; i++) {
                inputs[base + i] = t[i];
                if (row.supervised()[i]) {
                    targets[base + i] = t[i + 1];
                    if (lineStart < 0) {
                        lineStart = i;
                    }
                    if (row.countLines() && t[i + 1] == semicolon) {
                        lineEnd[base + i] = base + lineStart + 1;
                        lineType[base + i] = row.type()[i];
                        lineStart = -1;
                    }
                } else {
                    lineStart = -1; // a line never spans an unsupervised stretch (the next round's questions)
                }
            }
        }
        return new Batch(rows, length, inputs, targets, lineEnd, lineType);
    }

    /** The whole session teacher-forced, supervised on every round's answer (from its last prompt token). */
    private static Row taskRow(ReadingPrompt p, int rounds) {
        int[] tokens = p.teacherForced();
        boolean[] sup = new boolean[tokens.length];
        int[] type = new int[tokens.length];
        int at = p.prompt().length;
        supervise(sup, type, at, p.answer().length, p.type());
        at += p.answer().length;
        for (ReadingRound r : p.followUps()) {
            at += r.chunk().length;
            supervise(sup, type, at, r.answer().length, r.type());
            at += r.answer().length;
        }
        return new Row(tokens, sup, type, true, TASK, rounds);
    }

    /** Marks the predictions of the {@code n} answer tokens starting at {@code from} (made one position earlier). */
    private static void supervise(boolean[] sup, int[] type, int from, int n, QuestionType t) {
        Arrays.fill(sup, from - 1, from - 1 + n, true);
        Arrays.fill(type, from - 1, from - 1 + n, t.ordinal());
    }

    /** {@code <bos> w1 .. wn} then the same words again (or reversed), supervised on the repeat. */
    private static Row repeated(SplittableRandom rnd, int maxWords) {
        Vocabulary v = Vocabulary.get();
        int n = 8 + rnd.nextInt(Math.max(1, maxWords - 8));
        int first = v.id(v.names().get(0));
        int content = v.size() - first;
        int[] tokens = new int[2 * n + 1];
        boolean[] sup = new boolean[tokens.length];
        tokens[0] = v.id(Vocabulary.BOS);
        boolean reversed = rnd.nextBoolean();
        for (int i = 0; i < n; i++) {
            tokens[i + 1] = first + rnd.nextInt(content);
        }
        for (int i = 0; i < n; i++) {
            tokens[n + 1 + i] = reversed ? tokens[n - i] : tokens[i + 1];
            sup[n + i] = true;
        }
        return new Row(tokens, sup, null, false, REPEAT, 0);
    }

    /** {@code <bos> v1 n1 v1' verdict ; ...}: true when v1' equals v1 (half the time), supervised on verdicts. */
    private static Row comparisons(SplittableRandom rnd, int count) {
        Vocabulary v = Vocabulary.get();
        int[] tokens = new int[1 + 5 * count];
        boolean[] sup = new boolean[tokens.length];
        tokens[0] = v.id(Vocabulary.BOS);
        int values = v.values().size();
        for (int c = 0; c < count; c++) {
            int at = 1 + 5 * c;
            int claim = rnd.nextInt(values);
            boolean same = rnd.nextBoolean();
            int actual = same ? claim : (claim + 1 + rnd.nextInt(values - 1)) % values;
            tokens[at] = v.id(v.values().get(claim));
            tokens[at + 1] = v.id(v.names().get(rnd.nextInt(v.names().size())));
            tokens[at + 2] = v.id(v.values().get(actual));
            tokens[at + 3] = v.id(same ? "true" : "false");
            tokens[at + 4] = v.id(";");
            sup[at + 2] = true;
        }
        return new Row(tokens, sup, null, false, COMPARE, 0);
    }
}

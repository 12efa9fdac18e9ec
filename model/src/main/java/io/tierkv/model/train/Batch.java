package io.tierkv.model.train;

import io.tierkv.model.task.QuestionPosition;
import io.tierkv.model.task.QuestionType;
import io.tierkv.model.task.ReadingPrompt;
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
 * @param rowType (B) the question type's ordinal of each task row, -1 for a warm-up row
 */
record Batch(int rows, int length, long[] inputs, long[] targets, int[] lineEnd, int[] rowType) {
    static final int IGNORE = -100;

    /** One sequence with its supervised positions (a position supervises the prediction of the next token). */
    private record Row(int[] tokens, boolean[] supervised, int type, boolean countLines) {
    }

    /** Draws a batch: task rows of mixed types and positions, and a share {@code warmupShare} of warm-up rows. */
    static Batch draw(ReadingTask task, SplittableRandom rnd, int rows, double warmupShare) {
        Row[] all = new Row[rows];
        int length = 0;
        for (int r = 0; r < rows; r++) {
            if (rnd.nextDouble() < warmupShare) {
                all[r] = rnd.nextInt(3) == 0 ? comparisons(rnd, task.config().maxPassageTokens() / 8 + 2)
                        : repeated(rnd, task.config().maxPassageTokens() / 2);
            } else {
                QuestionType type = QuestionType.values()[rnd.nextInt(QuestionType.values().length)];
                QuestionPosition pos = QuestionPosition.values()[rnd.nextInt(2)];
                all[r] = taskRow(task.generate(rnd, type, pos));
            }
            length = Math.max(length, all[r].tokens().length - 1);
        }
        int pad = Vocabulary.get().id(Vocabulary.PAD);
        int semicolon = Vocabulary.get().id(";");
        long[] inputs = new long[rows * length];
        long[] targets = new long[rows * length];
        int[] lineEnd = new int[rows * length];
        int[] rowType = new int[rows];
        Arrays.fill(inputs, pad);
        Arrays.fill(targets, IGNORE);
        for (int r = 0; r < rows; r++) {
            Row row = all[r];
            int base = r * length;
            int[] t = row.tokens();
            rowType[r] = row.type();
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
                        lineStart = i + 1;
                    }
                }
            }
        }
        return new Batch(rows, length, inputs, targets, lineEnd, rowType);
    }

    private static Row taskRow(ReadingPrompt p) {
        int[] tokens = new int[p.prompt().length + p.answer().length];
        System.arraycopy(p.prompt(), 0, tokens, 0, p.prompt().length);
        System.arraycopy(p.answer(), 0, tokens, p.prompt().length, p.answer().length);
        boolean[] sup = new boolean[tokens.length];
        Arrays.fill(sup, p.prompt().length - 1, tokens.length - 1, true);
        return new Row(tokens, sup, p.type().ordinal(), true);
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
        return new Row(tokens, sup, -1, false);
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
        return new Row(tokens, sup, -1, false);
    }
}

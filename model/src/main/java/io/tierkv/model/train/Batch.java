package io.tierkv.model.train;

import io.tierkv.model.task.QuestionPosition;
import io.tierkv.model.task.QuestionType;
import io.tierkv.model.task.ReadingPrompt;
import io.tierkv.model.task.ReadingTask;
import io.tierkv.model.task.Vocabulary;
import java.util.SplittableRandom;

/**
 * One training batch: prompt + expected answer per row, right-padded; the loss covers only the answer
 * tokens (the passage is random filler, nothing to learn there).
 *
 * @param inputs  (B * T) token ids, row-major
 * @param targets (B * T) next-token ids at answer positions, {@link #IGNORE} elsewhere
 * @param lineEnd (B * T) at the target position of each answer line's closing {@code ;}, the flat index
 *                of the line's first target position plus one; 0 elsewhere (for line accuracy)
 * @param rowType (B) the question type's ordinal of each row, -1 for a repeated sequence
 */
record Batch(int rows, int length, long[] inputs, long[] targets, int[] lineEnd, int[] rowType) {
    static final int IGNORE = -100;

    /**
     * Draws a batch of mixed types and positions from {@code task}. A share {@code repeatShare} of the rows
     * are instead a random word sequence followed by itself, with the loss on the repeat: the classic
     * inducer of induction heads (attend to what followed the previous occurrence of this token), which is
     * the circuit every lookup in the suite needs. It only shapes training; evaluation never sees them.
     */
    static Batch draw(ReadingTask task, SplittableRandom rnd, int rows, double repeatShare) {
        ReadingPrompt[] prompts = new ReadingPrompt[rows];
        int length = 0;
        for (int r = 0; r < rows; r++) {
            QuestionType type = QuestionType.values()[rnd.nextInt(QuestionType.values().length)];
            QuestionPosition pos = QuestionPosition.values()[rnd.nextInt(2)];
            prompts[r] = rnd.nextDouble() < repeatShare ? repeated(rnd, task.config().maxPassageTokens() / 2)
                    : task.generate(rnd, type, pos);
            length = Math.max(length, prompts[r].prompt().length + prompts[r].answer().length - 1);
        }
        int pad = Vocabulary.get().id(Vocabulary.PAD);
        int semicolon = Vocabulary.get().id(";");
        long[] inputs = new long[rows * length];
        long[] targets = new long[rows * length];
        int[] lineEnd = new int[rows * length];
        java.util.Arrays.fill(inputs, pad);
        java.util.Arrays.fill(targets, IGNORE);
        for (int r = 0; r < rows; r++) {
            int[] p = prompts[r].prompt();
            int[] a = prompts[r].answer();
            int base = r * length;
            int n = p.length + a.length;
            for (int i = 0; i < n - 1; i++) {
                inputs[base + i] = i < p.length ? p[i] : a[i - p.length];
            }
            int lineStart = p.length - 1;
            for (int j = 0; j < a.length; j++) {
                int pos = p.length - 1 + j;
                targets[base + pos] = a[j];
                if (a[j] == semicolon) {
                    lineEnd[base + pos] = base + lineStart + 1;
                    lineStart = pos + 1;
                }
            }
        }
        int[] rowType = new int[rows];
        for (int r = 0; r < rows; r++) {
            rowType[r] = prompts[r].type() == null ? -1 : prompts[r].type().ordinal();
        }
        return new Batch(rows, length, inputs, targets, lineEnd, rowType);
    }

    /**
     * {@code <bos> w1 .. wn} as the prompt and {@code w1 .. wn} (or, half the time, {@code wn .. w1}) as the
     * answer, words drawn from the content words. The forward repeat trains "copy what followed this
     * token before" (name to value); the reversed one "copy what preceded it" (value to name, to option letter).
     */
    private static ReadingPrompt repeated(SplittableRandom rnd, int maxWords) {
        Vocabulary v = Vocabulary.get();
        int n = 8 + rnd.nextInt(Math.max(1, maxWords - 8));
        int first = v.id(v.names().get(0));
        int content = v.size() - first;
        int[] prompt = new int[n + 1];
        int[] answer = new int[n];
        prompt[0] = v.id(Vocabulary.BOS);
        boolean reversed = rnd.nextBoolean();
        for (int i = 0; i < n; i++) {
            prompt[i + 1] = first + rnd.nextInt(content);
        }
        for (int i = 0; i < n; i++) {
            answer[i] = reversed ? prompt[n - i] : prompt[i + 1];
        }
        return new ReadingPrompt(null, null, prompt, answer, java.util.List.of(), 1, n + 1, new int[0]);
    }
}

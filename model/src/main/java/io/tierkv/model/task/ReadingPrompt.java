package io.tierkv.model.task;

import java.util.List;

/**
 * One generated prompt with its expected answers.
 *
 * @param type        the question type of all four questions
 * @param position    questions before or after the passage
 * @param prompt      the prompt's token ids, starting with {@code <bos>} and ending with {@code answers}
 * @param answer      the expected completion's token ids, ending with {@code <eos>}
 * @param answerLines the four expected answer lines, as text without the closing {@code ;}
 * @param passageStart index in {@code prompt} of the first passage token
 * @param passageEnd   index in {@code prompt} one past the last passage token
 * @param factPositions index in {@code prompt} of each asked fact's value token, in question order
 * @param followUps    the later rounds, in order (empty for a one-round prompt); round {@code r >= 2}'s chunk
 *                     follows round {@code r - 1}'s answer, its {@code <eos>} included
 */
public record ReadingPrompt(QuestionType type, QuestionPosition position, int[] prompt, int[] answer,
                            List<String> answerLines, int passageStart, int passageEnd, int[] factPositions,
                            List<ReadingRound> followUps) {

    /** A one-round prompt. */
    public ReadingPrompt(QuestionType type, QuestionPosition position, int[] prompt, int[] answer,
                         List<String> answerLines, int passageStart, int passageEnd, int[] factPositions) {
        this(type, position, prompt, answer, answerLines, passageStart, passageEnd, factPositions, List.of());
    }

    /** Rounds of questions: 1 plus the follow-ups. */
    public int rounds() {
        return 1 + followUps.size();
    }

    /** The whole session with the expected answers: prompt, answer, then each follow-up's chunk and answer. */
    public int[] teacherForced() {
        int n = prompt.length + answer.length;
        for (ReadingRound r : followUps) {
            n += r.chunk().length + r.answer().length;
        }
        int[] out = new int[n];
        int at = 0;
        at = put(out, at, prompt);
        at = put(out, at, answer);
        for (ReadingRound r : followUps) {
            at = put(out, at, r.chunk());
            at = put(out, at, r.answer());
        }
        return out;
    }

    private static int put(int[] out, int at, int[] part) {
        System.arraycopy(part, 0, out, at, part.length);
        return at + part.length;
    }

    /** The prompt as text. */
    public String promptText() {
        return Vocabulary.get().decode(prompt, 0, prompt.length);
    }

    /** The expected completion as text. */
    public String answerText() {
        return Vocabulary.get().decode(answer, 0, answer.length);
    }
}

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
 */
public record ReadingPrompt(QuestionType type, QuestionPosition position, int[] prompt, int[] answer,
                            List<String> answerLines, int passageStart, int passageEnd, int[] factPositions) {

    /** The prompt as text. */
    public String promptText() {
        return Vocabulary.get().decode(prompt, 0, prompt.length);
    }

    /** The expected completion as text. */
    public String answerText() {
        return Vocabulary.get().decode(answer, 0, answer.length);
    }
}

package io.tierkv.model.task;

import java.util.List;

/**
 * One later round of a multi-round reading prompt: a chunk of four new questions appended after the
 * previous round's answers, and the answers expected to it.
 *
 * @param type          the question type of this round's four questions
 * @param chunk         the chunk's token ids: {@code questions <keyword> q1 .. answers}
 * @param answer        the expected answer's token ids, ending with {@code <eos>}
 * @param answerLines   the four expected answer lines, as text without the closing {@code ;}
 * @param factPositions index of each asked fact's value token in the whole session (the passage never moves)
 */
public record ReadingRound(QuestionType type, int[] chunk, int[] answer, List<String> answerLines, int[] factPositions) {
}

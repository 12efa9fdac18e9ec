package io.tierkv.model.task;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Exact-match scoring per question: the completion is cut at {@code <eos>} and split at {@code ;}; the
 * line that starts with {@code qN} must equal the expected line for question N word for word.
 */
public final class AnswerScorer {
    private AnswerScorer() {
    }

    /** For each of the expected lines, whether the completion answered it exactly. */
    public static boolean[] score(List<String> expectedLines, String completion) {
        String text = completion;
        int eos = text.indexOf(Vocabulary.EOS);
        if (eos >= 0) {
            text = text.substring(0, eos);
        }
        Map<String, String> byQuestion = new HashMap<>();
        for (String line : text.split(";")) {
            String norm = line.trim().replaceAll("\\s+", " ");
            if (norm.isEmpty()) {
                continue;
            }
            String qid = norm.split(" ", 2)[0];
            byQuestion.putIfAbsent(qid, norm);
        }
        boolean[] correct = new boolean[expectedLines.size()];
        for (int i = 0; i < correct.length; i++) {
            String expected = expectedLines.get(i);
            String qid = expected.split(" ", 2)[0];
            correct[i] = expected.equals(byQuestion.get(qid));
        }
        return correct;
    }
}

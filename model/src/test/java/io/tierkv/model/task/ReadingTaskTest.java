package io.tierkv.model.task;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ReadingTaskTest {
    private final ReadingTask eval = new ReadingTask(TaskConfig.eval());
    private final Vocabulary v = Vocabulary.get();

    @Test
    void prompt_sameSeedAndIndex_isTheSamePrompt() {
        ReadingPrompt a = eval.prompt(7, 3, QuestionType.MULTIPLE_CHOICE, QuestionPosition.BEFORE);
        ReadingPrompt b = eval.prompt(7, 3, QuestionType.MULTIPLE_CHOICE, QuestionPosition.BEFORE);
        ReadingPrompt c = eval.prompt(7, 4, QuestionType.MULTIPLE_CHOICE, QuestionPosition.BEFORE);
        assertArrayEquals(a.prompt(), b.prompt());
        assertArrayEquals(a.answer(), b.answer());
        assertFalse(java.util.Arrays.equals(a.prompt(), c.prompt()));
    }

    @Test
    void evalPrompts_areSeveralHundredTokens_andAQuarterCannotHoldTheFacts() {
        for (QuestionType t : QuestionType.values()) {
            for (QuestionPosition p : QuestionPosition.values()) {
                for (int i = 0; i < 20; i++) {
                    ReadingPrompt r = eval.prompt(1, i, t, p);
                    int n = r.prompt().length;
                    assertTrue(n >= 400, "prompt of " + n + " tokens");
                    assertTrue(r.passageEnd() - r.passageStart() >= 400);
                    // The asked facts spread over more than a quarter of the prompt.
                    int lo = Integer.MAX_VALUE;
                    int hi = 0;
                    for (int f : r.factPositions()) {
                        lo = Math.min(lo, f);
                        hi = Math.max(hi, f);
                    }
                    assertTrue(hi - lo > n / 4, "asked facts span " + (hi - lo) + " of " + n + " tokens");
                }
            }
        }
    }

    @Test
    void facts_areStatedOnceInThePassage_andAnswersFollowThem() {
        for (QuestionType t : QuestionType.values()) {
            ReadingPrompt r = eval.prompt(3, 1, t, QuestionPosition.AFTER);
            assertEquals(4, r.answerLines().size());
            for (int q = 0; q < 4; q++) {
                int valuePos = r.factPositions()[q];
                String value = v.word(r.prompt()[valuePos]);
                String name = v.word(r.prompt()[valuePos - 1]);
                assertTrue(v.values().contains(value) && v.names().contains(name), name + " " + value);
                String line = r.answerLines().get(q);
                assertTrue(line.startsWith("q" + (q + 1) + " "), line);
                assertTrue(line.contains(name) && line.contains(value), line + " vs fact " + name + " " + value);
                int count = 0;
                for (int i = r.passageStart(); i < r.passageEnd(); i++) {
                    if (r.prompt()[i] == r.prompt()[valuePos]) {
                        count++;
                    }
                }
                assertEquals(1, count, "value " + value + " stated once");
            }
        }
    }

    @Test
    void multipleChoice_optionValuesAreDistinctAcrossQuestions() {
        for (int i = 0; i < 50; i++) {
            ReadingPrompt r = eval.prompt(5, i, QuestionType.MULTIPLE_CHOICE, QuestionPosition.BEFORE);
            String text = r.promptText();
            String questions = text.substring(text.indexOf("questions"), text.indexOf("passage"));
            Set<String> seen = new HashSet<>();
            for (String w : questions.split(" ")) {
                if (v.values().contains(w)) {
                    assertTrue(seen.add(w), "option " + w + " appears twice in " + questions);
                }
            }
            assertEquals(16, seen.size());
        }
    }

    @Test
    void trueFalse_bothVerdictsOccur_andFalseClaimsNameAnotherFactsValue() {
        int trues = 0;
        int falses = 0;
        for (int i = 0; i < 40; i++) {
            ReadingPrompt r = eval.prompt(9, i, QuestionType.TRUE_FALSE, QuestionPosition.BEFORE);
            for (String line : r.answerLines()) {
                if (line.endsWith("true")) {
                    trues++;
                } else {
                    assertTrue(line.endsWith("false"), line);
                    falses++;
                }
            }
        }
        assertTrue(trues > 40 && falses > 40, trues + " true, " + falses + " false");
    }

    @Test
    void positions_putTheQuestionsBeforeOrAfterThePassage() {
        ReadingPrompt before = eval.prompt(2, 0, QuestionType.FILL_BLANK, QuestionPosition.BEFORE);
        ReadingPrompt after = eval.prompt(2, 0, QuestionType.FILL_BLANK, QuestionPosition.AFTER);
        assertTrue(before.promptText().startsWith("<bos> questions fill q1"));
        assertTrue(after.promptText().startsWith("<bos> passage"));
        assertTrue(after.promptText().endsWith("? answers"));
        assertEquals(before.prompt().length, after.prompt().length);
        assertEquals(before.answerText(), after.answerText(), "same passage and questions in both positions");
    }

    @Test
    void config_rejectsImpossibleSizes() {
        assertThrows(IllegalArgumentException.class, () -> new TaskConfig(3, 5, 100, 200));
        assertThrows(IllegalArgumentException.class, () -> new TaskConfig(6, 5, 100, 200));
        assertThrows(IllegalArgumentException.class, () -> new TaskConfig(4, 8, 10, 200));
    }

    @Test
    void scorer_matchesLinesExactly_andIgnoresTextAfterEos() {
        List<String> expected = List.of("q1 zorp red", "q2 klim blue true", "q3 wex gold", "q4 dax jade");
        boolean[] s = AnswerScorer.score(expected,
                "q1 zorp red ; q2 klim blue false ; q4 dax jade ; q3 wex gold extra ; <eos> q3 wex gold ;");
        assertArrayEquals(new boolean[] {true, false, false, true}, s);
        assertArrayEquals(new boolean[] {false, false, false, false}, AnswerScorer.score(expected, ""));
    }

    @Test
    void vocabulary_rejectsUnknownWordsByName() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> v.encode("zorp banana"));
        assertTrue(e.getMessage().contains("banana"));
    }

    @Test
    void multiRound_roundOneIsTheOneRoundPrompt_whenThePassageHasFactsEnough() {
        ReadingTask eval = new ReadingTask(TaskConfig.eval());
        for (QuestionPosition p : QuestionPosition.values()) {
            ReadingPrompt one = eval.prompt(4, 2, QuestionType.MATCHING, p);
            ReadingPrompt two = eval.prompt(4, 2, QuestionType.MATCHING, p, 2);
            assertArrayEquals(one.prompt(), two.prompt(), "eight facts or more hold two rounds");
            assertArrayEquals(one.answer(), two.answer());
            assertEquals(1, two.followUps().size());
        }
    }

    @Test
    void multiRound_everyQuestionAsksADifferentFact_andEachChunkFollowsTheAnswers() {
        ReadingTask eval = new ReadingTask(TaskConfig.eval());
        Vocabulary v = Vocabulary.get();
        for (int i = 0; i < 20; i++) {
            ReadingPrompt r = eval.prompt(6, i, QuestionType.values()[i % 4], QuestionPosition.values()[i % 2], 3);
            int[] all = r.teacherForced();
            Set<Integer> facts = new HashSet<>();
            for (int f : r.factPositions()) {
                facts.add(f);
            }
            int at = r.prompt().length + r.answer().length;
            for (ReadingRound round : r.followUps()) {
                assertEquals("questions", v.word(round.chunk()[0]));
                assertEquals("answers", v.word(round.chunk()[round.chunk().length - 1]));
                assertEquals(Vocabulary.EOS, v.word(all[at - 1]), "a round's chunk comes after the previous answer's <eos>");
                assertEquals(Vocabulary.EOS, v.word(round.answer()[round.answer().length - 1]));
                for (int q = 0; q < TaskConfig.QUESTIONS; q++) {
                    int pos = round.factPositions()[q];
                    assertTrue(pos >= r.passageStart() && pos < r.passageEnd(), "later facts are in the passage");
                    assertTrue(facts.add(pos), "fact at " + pos + " asked twice");
                    String line = round.answerLines().get(q);
                    assertTrue(line.contains(v.word(all[pos - 1]) + " " + v.word(all[pos])),
                            "the answer is the fact's value: " + line);
                }
                at += round.chunk().length + round.answer().length;
            }
            assertEquals(all.length, at);
            assertEquals(12, facts.size());
        }
    }

    @Test
    void scaledPassages_areLonger_andABadScaleIsRefused() {
        TaskConfig two = TaskConfig.eval().scaled(2);
        assertEquals(2 * TaskConfig.eval().minPassageTokens(), two.minPassageTokens());
        assertEquals(2 * TaskConfig.eval().maxPassageTokens(), two.maxPassageTokens());
        ReadingPrompt r = new ReadingTask(two).prompt(1, 0, QuestionType.FILL_BLANK, QuestionPosition.AFTER);
        assertTrue(r.passageEnd() - r.passageStart() >= two.minPassageTokens());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> TaskConfig.eval().scaled(0)).getMessage().contains("scale"));
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> new ReadingTask(TaskConfig.eval()).prompt(1, 0, QuestionType.FILL_BLANK, QuestionPosition.AFTER, 11))
                .getMessage().contains("rounds"));
    }
}

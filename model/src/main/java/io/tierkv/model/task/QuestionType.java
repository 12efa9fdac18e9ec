package io.tierkv.model.task;

import java.util.Locale;

/**
 * The paper's four question types (IELTS reading). The questions section opens with the type's keyword;
 * each question starts with its id, and each answer line restates the question's subject before the
 * answer, so that every step is one attention hop: a copy from the question, a lookup in the passage,
 * for true/false a comparison.
 *
 * <pre>
 *   passage fact:     zorp red .
 *   TRUE_FALSE       judge  q1 blue zorp ?                    ->  q1 blue zorp red false ;
 *   FILL_BLANK       fill   q1 zorp ?                         ->  q1 zorp red ;
 *   MULTIPLE_CHOICE  choose q1 zorp ? gold red jade pink      ->  q1 zorp red ;
 *   MATCHING         match  q1 zorp q2 klim ... ? jade red gold blue ...  ->  q1 zorp red ; q2 klim blue ; ...
 * </pre>
 *
 * True/false restates the claim and the subject, looks the value up and compares it with the claim two
 * tokens back. Multiple choice answers with the chosen option's text, and matching pairs each subject with
 * one value of a list the four questions share (their values and two distractors). Both could have asked
 * for letters instead; that needs a second, value-to-option lookup which the bundled 0.8M-parameter model
 * did not learn within its training budget, so the answers name the option (see the model's README).
 */
public enum QuestionType {
    TRUE_FALSE("tf", "judge"),
    FILL_BLANK("fill", "fill"),
    MULTIPLE_CHOICE("mc", "choose"),
    MATCHING("match", "match");

    private final String shortName;
    private final String keyword;

    QuestionType(String shortName, String keyword) {
        this.shortName = shortName;
        this.keyword = keyword;
    }

    /** The word that opens the questions section of a prompt of this type. */
    public String keyword() {
        return keyword;
    }

    /** The short name used in reports and on the command line. */
    public String shortName() {
        return shortName;
    }

    public static QuestionType parse(String s) {
        for (QuestionType t : values()) {
            if (t.shortName.equalsIgnoreCase(s) || t.name().equalsIgnoreCase(s)) {
                return t;
            }
        }
        throw new IllegalArgumentException("unknown question type '" + s + "'; expected tf, fill, mc or match");
    }

    @Override
    public String toString() {
        return shortName;
    }

    /** Lower-case name for JSON. */
    public String jsonName() {
        return shortName.toLowerCase(Locale.ROOT);
    }
}

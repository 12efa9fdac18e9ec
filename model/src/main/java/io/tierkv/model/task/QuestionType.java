package io.tierkv.model.task;

import java.util.Locale;

/**
 * The paper's four question types (IELTS reading). Every answer line restates the subject and its value
 * before any verdict ("a copy, then a lookup"), so that each step is one attention hop:
 *
 * <pre>
 *   TRUE_FALSE       q1 judge zorp red ?                    ->  q1 zorp is blue false ;
 *   FILL_BLANK       q1 fill zorp ?                         ->  q1 zorp is blue ;
 *   MULTIPLE_CHOICE  q1 choose zorp a red b blue c gold d jade ?  ->  q1 zorp is blue b ;
 *   MATCHING         q1 match blue ?                        ->  q1 zorp is blue ;
 * </pre>
 *
 * Matching asks the reverse lookup: which subject has this value.
 */
public enum QuestionType {
    TRUE_FALSE("tf"),
    FILL_BLANK("fill"),
    MULTIPLE_CHOICE("mc"),
    MATCHING("match");

    private final String shortName;

    QuestionType(String shortName) {
        this.shortName = shortName;
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

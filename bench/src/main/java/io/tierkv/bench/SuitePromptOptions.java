package io.tierkv.bench;

import io.tierkv.model.eval.EvalSettings;
import io.tierkv.model.task.QuestionPosition;
import io.tierkv.model.task.QuestionType;
import io.tierkv.model.task.ReadingPrompt;
import io.tierkv.model.task.ReadingTask;
import io.tierkv.model.task.TaskConfig;
import java.util.Locale;
import picocli.CommandLine.Option;

/** Picks one held-out prompt of the reading-comprehension suite, for the commands that run a single prompt. */
final class SuitePromptOptions {
    @Option(names = "--type", defaultValue = "fill", description = "Suite question type: tf, fill, mc, match (default: ${DEFAULT-VALUE}).")
    String type;

    @Option(names = "--position", defaultValue = "before", description = "Questions before or after the passage (default: ${DEFAULT-VALUE}).")
    String position;

    @Option(names = "--index", defaultValue = "0", description = "Which suite prompt (default: ${DEFAULT-VALUE}).")
    int index;

    /** The chosen prompt, from the evaluation's held-out seed. */
    ReadingPrompt prompt() {
        QuestionPosition pos = switch (position.toLowerCase(Locale.ROOT)) {
            case "before" -> QuestionPosition.BEFORE;
            case "after" -> QuestionPosition.AFTER;
            default -> throw new IllegalArgumentException("--position must be before or after, was " + position);
        };
        if (index < 0) {
            throw new IllegalArgumentException("--index must be >= 0, was " + index);
        }
        return new ReadingTask(TaskConfig.eval()).prompt(EvalSettings.DEFAULT_SEED, index, QuestionType.parse(type), pos);
    }

    /** How the prompt is named in reports. */
    String describe() {
        return "suite " + type + "/" + position.toLowerCase(Locale.ROOT) + " #" + index;
    }

    /** Prints how many of {@code task}'s answers {@code completion} got exactly, with the expected answer. */
    void printScore(io.tierkv.model.task.ReadingPrompt task, String completion) {
        boolean[] correct = io.tierkv.model.task.AnswerScorer.score(task.answerLines(), completion);
        int right = 0;
        for (boolean ok : correct) {
            right += ok ? 1 : 0;
        }
        System.out.printf(java.util.Locale.ROOT, "expected: %s%n%d of %d answers exact (%s)%n", task.answerText(), right,
                correct.length, describe());
    }
}

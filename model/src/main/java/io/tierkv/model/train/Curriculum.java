package io.tierkv.model.train;

import io.tierkv.model.task.TaskConfig;
import java.util.List;

/**
 * From few facts in short passages to the full task. A small model first forms its retrieval heads on
 * short prompts, where each step is cheap and the signal dense; longer passages then only teach it to
 * ignore more filler. Stage 4 is the evaluation task ({@link TaskConfig#eval()}); the last stage widens
 * it: passages from half to twice the evaluation length, and most prompts multi-round, so that the model
 * answers late rounds about facts read long before and reads passages longer than the default.
 */
public final class Curriculum {
    /** Rounds of the longest multi-round prompts trained on. */
    public static final int MAX_ROUNDS = 3;

    private Curriculum() {
    }

    /**
     * One stage: its task and the share of its task rows that are multi-round (2 to {@code maxRounds}).
     *
     * @param task            passage lengths and facts
     * @param multiRoundShare share of task rows with more than one round
     * @param maxRounds       most rounds of a row
     * @param warmupScale     the warm-up rows' share relative to the configured one
     * @param lengthBuckets   each step draws its passages from one of this many equal stretches of the
     *                        task's passage lengths, so that a batch's rows are padded to similar lengths
     */
    public record Stage(TaskConfig task, double multiRoundShare, int maxRounds, double warmupScale, int lengthBuckets) {
        static Stage oneRound(TaskConfig task) {
            return new Stage(task, 0, 1, 1, 1);
        }

        /** The task of length bucket {@code i} of {@link #lengthBuckets}. */
        public TaskConfig bucket(int i) {
            if (lengthBuckets == 1) {
                return task;
            }
            int lo = task.minPassageTokens();
            int span = task.maxPassageTokens() - lo;
            return new TaskConfig(task.minFacts(), task.maxFacts(), lo + span * i / lengthBuckets, lo + span * (i + 1) / lengthBuckets);
        }
    }

    /** The task of the last stage: the evaluation's facts, passages of 200 to 1,120 tokens. */
    public static TaskConfig wide() {
        TaskConfig e = TaskConfig.eval();
        return new TaskConfig(e.minFacts(), e.maxFacts(), e.minPassageTokens() / 2, e.maxPassageTokens() * 2);
    }

    /** The stages, in order. */
    public static List<Stage> stages() {
        return List.of(
                Stage.oneRound(new TaskConfig(4, 4, 16, 40)),
                Stage.oneRound(new TaskConfig(4, 6, 40, 100)),
                Stage.oneRound(new TaskConfig(5, 8, 100, 200)),
                Stage.oneRound(new TaskConfig(6, 10, 200, 360)),
                Stage.oneRound(TaskConfig.eval()),
                new Stage(wide(), 2.0 / 3, MAX_ROUNDS, 0.4, 4));
    }
}

package io.tierkv.model.train;

import io.tierkv.model.task.TaskConfig;
import java.util.List;

/**
 * From few facts in short passages to the full task. A small model first forms its retrieval heads on
 * short prompts, where each step is cheap and the signal dense; longer passages then only teach it to
 * ignore more filler. The last stage is the evaluation task ({@link TaskConfig#eval()}).
 */
public final class Curriculum {
    private Curriculum() {
    }

    /** The stages, in order. */
    public static List<TaskConfig> stages() {
        return List.of(
                new TaskConfig(4, 4, 16, 40),
                new TaskConfig(4, 6, 40, 100),
                new TaskConfig(5, 8, 100, 200),
                new TaskConfig(6, 10, 200, 360),
                TaskConfig.eval());
    }
}

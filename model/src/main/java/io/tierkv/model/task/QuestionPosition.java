package io.tierkv.model.task;

/** Where the questions stand relative to the passage (the paper's two settings). */
public enum QuestionPosition {
    /** Questions first, then the passage: the case that defeats SnapKV and attention sinks. */
    BEFORE("before"),
    /** The passage first, then the questions. */
    AFTER("after");

    private final String jsonName;

    QuestionPosition(String jsonName) {
        this.jsonName = jsonName;
    }

    public String jsonName() {
        return jsonName;
    }

    @Override
    public String toString() {
        return jsonName;
    }
}

package io.tierkv.model.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.model.llama.Tensors;
import io.tierkv.model.task.ReadingTask;
import io.tierkv.model.task.TaskConfig;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class BatchTest {
    private static Batch batch() {
        return Batch.draw(new ReadingTask(new TaskConfig(4, 4, 16, 40)), new SplittableRandom(3), 5, 0.0);
    }

    private static double accuracy(Batch b, long[] pred) {
        return Trainer.lineAccuracy(b, Tensors.fromLongs(pred, b.rows(), b.length()));
    }

    @Test
    void lineAccuracy_perfectPredictions_isOne_inEveryRow() {
        Batch b = batch();
        long[] pred = b.targets().clone();
        assertEquals(1.0, accuracy(b, pred), 0.0);
    }

    @Test
    void lineAccuracy_oneWrongTokenInTheLastRow_failsExactlyThatLine() {
        Batch b = batch();
        long[] pred = b.targets().clone();
        int lines = 0;
        int lastLineToken = -1;
        for (int i = 0; i < pred.length; i++) {
            if (b.lineEnd()[i] > 0) {
                lines++;
                lastLineToken = i - 1;
            }
        }
        assertEquals(5 * 4, lines, "four answer lines per prompt");
        assertTrue(lastLineToken >= (b.rows() - 1) * b.length(), "the last line lies in the last row");
        pred[lastLineToken] = pred[lastLineToken] + 1;
        assertEquals(1.0 - 1.0 / lines, accuracy(b, pred), 1e-12);
    }

    @Test
    void targets_coverOnlyTheAnswer() {
        Batch b = batch();
        int supervised = 0;
        for (long t : b.targets()) {
            if (t != Batch.IGNORE) {
                supervised++;
            }
        }
        // Lines are 4 (fill, mc, match) or 6 (tf) tokens with their ';', plus <eos>: 17 to 25 per prompt.
        assertTrue(supervised >= 5 * 17 && supervised <= 5 * 25, supervised + " supervised tokens");
    }

    @Test
    void multiRoundRows_superviseEveryRoundsAnswer_andCountItsLines() {
        Batch b = Batch.draw(new ReadingTask(new TaskConfig(12, 12, 100, 120)), new SplittableRandom(5), 6, new Batch.Mix(0, 1.0, 3));
        int lines = 0;
        for (int i = 0; i < b.lineEnd().length; i++) {
            if (b.lineEnd()[i] > 0) {
                lines++;
                assertTrue(b.lineEnd()[i] - 1 <= i && b.lineEnd()[i] - 1 > i - 8, "a line is a few tokens long");
                assertTrue(b.lineType()[i] >= 0 && b.lineType()[i] < 4);
            }
        }
        // Every row has 2 or 3 rounds of four lines.
        assertTrue(lines >= 6 * 8 && lines <= 6 * 12, lines + " lines");
        assertTrue(lines > 6 * 8, "some rows have three rounds");
        long[] pred = b.targets().clone();
        assertEquals(1.0, accuracy(b, pred), 0.0);
    }
}

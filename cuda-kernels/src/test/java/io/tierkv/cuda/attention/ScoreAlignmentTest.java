package io.tierkv.cuda.attention;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The device scores' alignment rule, checked on the host before anything reaches a GPU. */
class ScoreAlignmentTest {

    @Test
    void blocksNotAMultipleOf16BytesApart_areRefused_namingTheSize() {
        ScoreShape bad = new ScoreShape(2, 1, 8, 5, 332, 0.5f);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> CudaAttentionScores.checkAligned(bad));
        assertTrue(e.getMessage().contains("multiple of 16") && e.getMessage().contains("332"), e.getMessage());
    }

    @Test
    void everyDeviceCase_isAligned_andTheJavaOnlyCasesAreNot() {
        for (ScoresCase c : ScoresCase.deviceAligned()) {
            assertDoesNotThrow(() -> CudaAttentionScores.checkAligned(c.shape()), c.toString());
        }
        assertTrue(ScoresCase.all().stream().anyMatch(c -> c.shape().blockBytes() % 16 != 0),
                "the Java conformance keeps odd block sizes");
    }
}

package io.tierkv.model.generate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class GenerationResultTest {

    @Test
    void oneToken_hasNoDecodeSpeed_andSaysSo() {
        GenerationResult one = new GenerationResult(new int[] {7}, 10, 1_000_000, 0, 10, 1, 10, 0, 0);
        assertFalse(one.decodeMeasured(), "the only token came from the prefill");
        assertEquals("n/a", one.decodeRate());
    }

    @Test
    void tokensAfterTheFirst_overTheDecodeTime() {
        GenerationResult three = new GenerationResult(new int[] {7, 8, 9}, 10, 1_000_000, 500_000_000, 10, 1, 10, 0, 0);
        assertTrue(three.decodeMeasured());
        assertEquals(4.0, three.decodeTokensPerSecond(), 1e-12); // 2 tokens in 0.5 s
        assertEquals("4.0", three.decodeRate());
    }
}

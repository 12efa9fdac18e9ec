package io.tierkv.model.generate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class SamplerTest {
    @Test
    void greedy_picksTheLargestLogit_lowerIndexOnTies() {
        assertEquals(2, Sampler.greedy().next(new float[] {0f, 1f, 3f, 3f}));
    }

    /** The CUDA decoder's argmax kernel's rule: a NaN never wins, and logits with no number are an error, not token 0. */
    @Test
    void greedy_skipsNaN_andRefusesLogitsWithNoNumber() {
        assertEquals(2, Sampler.argmax(new float[] {Float.NaN, 1f, 3f, Float.NaN}));
        assertEquals(1, Sampler.argmax(new float[] {Float.NaN, Float.NEGATIVE_INFINITY}));
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> Sampler.argmax(new float[] {Float.NaN, Float.NaN}));
        assertTrue(e.getMessage().contains("none of the 2 logits"), e.getMessage());
    }

    @Test
    void sampling_sameSeed_sameTokens_andTopPExcludesTheTail() {
        float[] logits = {5f, 4.5f, 0f, -1f, -3f};
        Sampler a = new Sampler(1.0, 0.9, 42);
        Sampler b = new Sampler(1.0, 0.9, 42);
        int[] counts = new int[logits.length];
        for (int i = 0; i < 2000; i++) {
            int x = a.next(logits);
            assertEquals(x, b.next(logits));
            counts[x]++;
        }
        assertTrue(counts[0] > counts[1] && counts[1] > 0, java.util.Arrays.toString(counts));
        assertEquals(0, counts[3] + counts[4], "tokens outside the top-p mass never appear");
    }

    @Test
    void badArguments_areNamed() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new Sampler(-1, 1, 0)).getMessage().contains("temperature"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new Sampler(1, 0, 0)).getMessage().contains("top-p"));
    }
}

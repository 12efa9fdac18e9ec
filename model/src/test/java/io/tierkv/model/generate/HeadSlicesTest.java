package io.tierkv.model.generate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The per-head slice choice's rule, the one the {@code head_slices} kernel follows ({@code HeadSlicesGpuTest} holds them equal). */
class HeadSlicesTest {
    private static final float NAN = Float.NaN;

    @Test
    void eachKvHeadReadsItsBestBlockFirst_thenTheClosestToTheirBest() {
        HeadSlices slices = new HeadSlices(HostRead.DEFAULT, 2, 2);
        // blocks x heads: head 0 prefers block 2, head 1 block 0; block 1 is head 0's runner-up by far
        float[] scores = {
            0, 5,
            3, -9,
            4, -9,
        };
        assertEquals(3, slices.choose(scores, 3, 3, 0));
        assertTrue(slices.headChosen(2, 0) && slices.headChosen(0, 1) && slices.headChosen(1, 0));
        assertFalse(slices.headChosen(0, 0) || slices.headChosen(1, 1) || slices.headChosen(2, 1));
    }

    @Test
    void aNanScore_isNeverChosen_andDoesNotHideTheHeadsOtherBlocks() {
        HeadSlices slices = new HeadSlices(HostRead.DEFAULT, 1, 1);
        // A NaN first score once made every block's value NaN (Math.max kept it as the best) and block 0 the choice.
        float[] scores = {NAN, 1, 2, -1, 0.5f};
        assertEquals(4, slices.choose(scores, 5, 5, 0), "only the blocks with a number are taken, however large the cap");
        assertFalse(slices.headChosen(0, 0), "the NaN block");
        assertEquals(1, slices.choose(scores, 5, 1, 0));
        assertTrue(slices.headChosen(2, 0), "the best block is the one with the best number");
    }

    @Test
    void aKvHeadWhoseEveryValueIsNan_readsBlockZero_asTheKernelDoes() {
        HeadSlices slices = new HeadSlices(HostRead.DEFAULT, 2, 2);
        float[] scores = {
            NAN, 1,
            NAN, 2,
        };
        assertEquals(3, slices.choose(scores, 2, 4, 0));
        assertTrue(slices.headChosen(0, 0), "a head of NaN values still reads one block: the first");
        assertFalse(slices.headChosen(1, 0));
        assertTrue(slices.headChosen(0, 1) && slices.headChosen(1, 1));
    }
}

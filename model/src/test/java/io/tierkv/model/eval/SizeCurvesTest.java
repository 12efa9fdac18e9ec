package io.tierkv.model.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

class SizeCurvesTest {
    @Test
    void meanIsOverThePromptsStillRunning_andStopsWhenFewerThanHalfAre() {
        List<double[]> runs = List.of(new double[] {10, 20}, new double[] {30, 40, 50, 60}, new double[] {50, 60, 70},
                new double[] {10});
        EvalResult.SizeCurve c = SizeCurves.curve("p", "after", runs);
        // Step 0: all four; step 1: three; step 2: two (half, kept); step 3: one (dropped).
        assertArrayEquals(new double[] {25, 40, 60}, c.kept(), 1e-12);
        assertArrayEquals(new int[] {4, 3, 2}, c.running());
    }
}

package io.tierkv.core.policy;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.tierkv.core.Transitions;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The window counts, reset at each close by zeroing only the tokens the window touched: after any run of
 * observations, every token's count is what the current window selected it, and its heat adds the last window's.
 */
class HierarchicalCountsTest {
    @Test
    void countsAndHeat_equalTheSelectionsOfThisWindowAndTheLast_acrossManyCloses() {
        int layers = 2;
        int window = 5;
        HierarchicalPolicy p = new HierarchicalPolicy(new HierarchicalConfig(3, 2, 1, window, 4));
        p.start(PolicyContext.unbounded(layers, 64));
        p.append(40);
        SplittableRandom rnd = new SplittableRandom(11);
        int[][] current = new int[layers][200];
        int[][] last = new int[layers][200];
        Transitions out = new Transitions();
        for (int step = 1; step <= 60; step++) {
            p.append(1);
            for (int l = 0; l < layers; l++) {
                int[] selected = rnd.ints(0, p.length()).distinct().limit(1 + rnd.nextInt(4)).sorted().toArray();
                p.observeSelected(l, selected, selected.length);
                for (int t : selected) {
                    current[l][t]++;
                }
            }
            p.step(out);
            if (step % window == 0) {
                for (int l = 0; l < layers; l++) {
                    last[l] = current[l];
                    current[l] = new int[200];
                }
            }
            for (int l = 0; l < layers; l++) {
                for (int t = 0; t < p.length(); t++) {
                    assertEquals(current[l][t], p.count(l, t), "step " + step + " layer " + l + " token " + t);
                    assertEquals(current[l][t] + last[l][t], p.heat(l, t), "step " + step + " layer " + l + " token " + t);
                }
            }
        }
        p.checkInvariants();
    }
}

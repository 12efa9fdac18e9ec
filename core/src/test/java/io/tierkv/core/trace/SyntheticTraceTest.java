package io.tierkv.core.trace;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.core.DType;
import io.tierkv.core.KvLayout;
import org.junit.jupiter.api.Test;

class SyntheticTraceTest {

    private static SyntheticTraceConfig small(long seed) {
        return SyntheticTraceConfig.defaults(2048, 200, seed).withLayout(new KvLayout(4, 8, 64, DType.F16, 16));
    }

    @Test
    void sameSeed_sameTrace_otherSeed_otherTrace() {
        assertEquals(fingerprint(small(3)), fingerprint(small(3)));
        assertNotEquals(fingerprint(small(3)), fingerprint(small(4)));
    }

    @Test
    void everyStep_holdsKDistinctAscendingPositionsWithinTheSequence() {
        SyntheticTrace t = new SyntheticTrace(small(1));
        TraceStep s = t.header().newStep();
        while (t.next(s)) {
            for (int l = 0; l < 4; l++) {
                assertEquals(8, s.count(l));
                int previous = -1;
                for (int i = 0; i < s.count(l); i++) {
                    int p = s.position(l, i);
                    assertTrue(p > previous && p <= 2048 + s.step(), "step " + s.step() + " layer " + l + ": " + p);
                    previous = p;
                }
            }
        }
    }

    @Test
    void shortSequence_takesEveryKey() {
        SyntheticTraceConfig c = SyntheticTraceConfig.defaults(3, 2, 1).withLayout(new KvLayout(1, 1, 8, DType.F32, 4));
        SyntheticTrace t = new SyntheticTrace(c);
        TraceStep s = t.header().newStep();
        assertTrue(t.next(s));
        assertArrayEquals(new int[] {0, 1, 2, 3}, s.toArray(0));
        assertTrue(t.next(s));
        assertArrayEquals(new int[] {0, 1, 2, 3, 4}, s.toArray(0));
        assertFalse(t.next(s));
    }

    @Test
    void structure_sinksAreHot_recentIsHot_andOldTokensAreRecalled() {
        SyntheticTrace t = new SyntheticTrace(small(5));
        TraceStep s = t.header().newStep();
        long total = 0;
        long sinks = 0;
        long recent = 0;
        long generatedPopular = 0;
        while (t.next(s)) {
            int newest = 2048 + s.step();
            for (int l = 0; l < 4; l++) {
                for (int i = 0; i < s.count(l); i++) {
                    int p = s.position(l, i);
                    total++;
                    if (p < 4) {
                        sinks++;
                    } else if (newest - p < 64) {
                        recent++;
                    } else if (p >= 2048) {
                        generatedPopular++;
                    }
                }
            }
        }
        // Default shares: 10% sinks, 30% recent (some draws collide and are redrawn).
        assertTrue(sinks > total * 0.05 && sinks < total * 0.15, "sinks " + sinks + " of " + total);
        assertTrue(recent > total * 0.2 && recent < total * 0.4, "recent " + recent + " of " + total);
        assertTrue(generatedPopular > 0, "drift brings generated tokens into the popular set");
    }

    @Test
    void config_rejectsSharesNotAddingUpToOne() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> SyntheticTraceConfig.defaults(100, 10, 1).withSources(4, 64, 0.5, 0.5, 0.5, 0));
        assertTrue(e.getMessage().contains("add up to 1"), e.getMessage());
    }

    private static long fingerprint(SyntheticTraceConfig c) {
        SyntheticTrace t = new SyntheticTrace(c);
        TraceStep s = t.header().newStep();
        long h = 17;
        while (t.next(s)) {
            for (int l = 0; l < s.layers(); l++) {
                for (int i = 0; i < s.count(l); i++) {
                    h = h * 31 + s.position(l, i);
                }
            }
        }
        return h;
    }

    @Test
    void revisitFamily_returnsToPassagesReadLongBefore_andLeavesDefaultTracesAsTheyWere() throws Exception {
        SyntheticTraceConfig base = SyntheticTraceConfig.defaults(2048, 600, 3).withLayout(new KvLayout(2, 8, 64, DType.F16, 16));
        SyntheticTraceConfig revisits = base.withRevisits(100, 8);
        assertTrue(revisits.describe().endsWith(" revisit=100 passages=8"), revisits.describe());
        assertEquals(base.describe(), base.withRevisits(0, 8).describe(), "off, the description is the default one");
        int passageLength = (2048 - 4) / 8;
        // per layer and phase of 100 steps: the passage holding most popular-source draws far from the tail
        int phases = 6;
        int[][] counts = new int[phases][8];
        try (SyntheticTrace t = new SyntheticTrace(revisits)) {
            TraceStep step = t.header().newStep();
            while (t.next(step)) {
                int phase = step.step() / 100;
                for (int i = 0; i < step.count(0); i++) {
                    int p = step.positions(0)[i];
                    if (p >= 4 && p < 2048 - 64) {
                        counts[phase][Math.min(7, (p - 4) / passageLength)]++;
                    }
                }
            }
        }
        int[] top = new int[phases];
        for (int ph = 0; ph < phases; ph++) {
            for (int p = 1; p < 8; p++) {
                top[ph] = counts[ph][p] > counts[ph][top[ph]] ? p : top[ph];
            }
            int total = java.util.Arrays.stream(counts[ph]).sum();
            assertTrue(counts[ph][top[ph]] > total / 2, "phase " + ph + ": one passage holds most old-token draws: "
                    + java.util.Arrays.toString(counts[ph]));
        }
        boolean returned = false;
        for (int a = 0; a < phases; a++) {
            for (int b = a + 2; b < phases; b++) {
                returned |= top[a] == top[b] && top[b - 1] != top[b];
            }
        }
        assertTrue(returned, "attention returns to a passage after attending another: " + java.util.Arrays.toString(top));
        assertThrows(IllegalArgumentException.class, () -> base.withRevisits(100, 1));
        assertThrows(IllegalArgumentException.class, () -> base.withRevisits(-1, 8));
    }
}

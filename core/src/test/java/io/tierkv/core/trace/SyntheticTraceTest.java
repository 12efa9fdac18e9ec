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
    void drawProbabilities_addUpToOneOverTheBlocks_atEveryStep_withAndWithoutSinks() {
        SyntheticTraceConfig plain = small(5);
        SyntheticTraceConfig noSinks = plain.withSources(0, 32, 0.1, 0.3, 0.55, 0.05);
        SyntheticTraceConfig revisits = plain.withRevisits(50, 4);
        for (SyntheticTraceConfig c : new SyntheticTraceConfig[] {plain, noSinks, revisits}) {
            SyntheticTrace t = new SyntheticTrace(c);
            TraceStep s = t.header().newStep();
            double[] p = new double[(2048 + 200) / 16 + 1];
            int step = 0;
            do {
                int length = c.promptLength() + step;
                for (int l = 0; l < 4; l++) {
                    java.util.Arrays.fill(p, 0);
                    t.drawProbabilities(l, Math.max(1, length), p);
                    double sum = 0;
                    for (double v : p) {
                        assertTrue(v >= 0, c.describe() + ": a negative probability");
                        sum += v;
                    }
                    assertEquals(1.0, sum, 1e-9, c.describe() + " step " + step + " layer " + l);
                }
                step++;
            } while (t.next(s) && step < 60);
        }
    }

    @Test
    void drawProbabilities_predictWhereTheDrawsLand() {
        // no drift: the truth holds still, so over many steps each block's share of the draws approaches its probability
        SyntheticTraceConfig c = small(6).withPopular(32, 4, 1.0, 0, 0.5);
        SyntheticTrace t = new SyntheticTrace(c);
        TraceStep s = t.header().newStep();
        double[] p = new double[(2048 + 200) / 16 + 1];
        t.drawProbabilities(2, 2048, p);   // the prompt's end; the recent window moves, the popular spans do not
        long[] hits = new long[p.length];
        long draws = 0;
        while (t.next(s)) {
            for (int i = 0; i < s.count(2); i++) {
                hits[s.positions(2)[i] / 16]++;
            }
            draws += s.count(2);
        }
        int hottest = 0;
        for (int b = 1; b < 2048 / 16 - 8; b++) {   // popular blocks, away from the recent window
            hottest = p[b] > p[hottest] ? b : hottest;
        }
        assertTrue(hottest > 0, "a popular block beyond the sinks");
        double share = (double) hits[hottest] / draws;
        // draws are de-duplicated within a step, which lowers a hot block's share a little
        assertEquals(p[hottest], share, 0.25 * p[hottest], "block " + hottest);
        assertTrue(hits[0] > 0.5 * p[0] * draws, "the sinks' block");
    }

    @Test
    void parse_readsBackWhatDescribeWrote() {
        KvLayout layout = new KvLayout(4, 8, 64, DType.F16, 16);
        for (SyntheticTraceConfig c : new SyntheticTraceConfig[] {small(7), small(8).withRevisits(100, 5).withTopK(16)}) {
            assertEquals(c, SyntheticTraceConfig.parse(c.describe(), layout));
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> SyntheticTraceConfig.parse("model bundled, suite mc/after #0", layout));
        assertTrue(e.getMessage().contains("not a synthetic trace"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> SyntheticTraceConfig.parse("synth seed=1 tokens=x", layout));
        assertTrue(e.getMessage().contains("malformed"), e.getMessage());
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

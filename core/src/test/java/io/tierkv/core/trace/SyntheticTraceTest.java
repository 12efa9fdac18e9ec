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
}

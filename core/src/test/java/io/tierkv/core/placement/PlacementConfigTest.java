package io.tierkv.core.placement;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.core.trace.SyntheticTrace;
import io.tierkv.core.trace.SyntheticTraceConfig;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class PlacementConfigTest {

    /** One prior query per 32 prompt tokens, at least 32 (all of a shorter prompt), at most 256. */
    @Test
    void priorQueries_growWithThePrompt_between32And256() {
        assertEquals(0, PlacementConfig.priorQueries(0));
        assertEquals(10, PlacementConfig.priorQueries(10));
        assertEquals(32, PlacementConfig.priorQueries(436));
        assertEquals(32, PlacementConfig.priorQueries(1024));
        assertEquals(136, PlacementConfig.priorQueries(4352));
        assertEquals(256, PlacementConfig.priorQueries(8192));
        assertEquals(256, PlacementConfig.priorQueries(131_072));
    }

    /** A synthetic trace's prefill record holds the top-k of exactly the queries the runtime's prior reads. */
    @Test
    void syntheticPrefillRecord_countsTheRuntimesPriorQueries() {
        for (int prompt : new int[] {500, 4352}) {
            SyntheticTraceConfig c = SyntheticTraceConfig.defaults(prompt, 10, 3);
            try (SyntheticTrace t = new SyntheticTrace(c)) {
                int sum = Arrays.stream(t.header().prefillCounts(0)).sum();
                assertEquals(PlacementConfig.priorQueries(prompt) * c.topK(), sum, "prompt " + prompt);
            }
        }
    }

    /** A bad knob is named by the system property a user would set, with its value. */
    @Test
    void aBadKnob_isNamedByItsProperty() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new PlacementConfig(16, 0, 1, 0.2, 0, 4, 1, 32, 0.5, 0, 4096, 0, 0, 0, 1, 0, 0, 64));
        assertTrue(e.getMessage().contains("countCap (-Dtierkv.placement.countCap) must be > 0, got 0.0"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new PlacementConfig(16, 0, 1, 0, 0));
        assertTrue(e.getMessage().contains("fresh (-Dtierkv.placement.fresh)"), e.getMessage());
    }
}

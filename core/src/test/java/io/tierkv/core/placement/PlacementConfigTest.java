package io.tierkv.core.placement;

import static org.junit.jupiter.api.Assertions.assertEquals;

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
}

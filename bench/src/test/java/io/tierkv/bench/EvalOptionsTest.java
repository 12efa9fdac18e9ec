package io.tierkv.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.core.policy.Policies;
import java.util.List;
import org.junit.jupiter.api.Test;

class EvalOptionsTest {
    @Test
    void policies_splitAtCommas_butASpecKeepsItsOwnOptions() {
        assertEquals(List.of("full", "hierarchical:k=16,window=40", "h2o", "hierarchical:mode=drop"),
                EvalOptions.parsePolicies("full,hierarchical:k=16,window=40,h2o,hierarchical:mode=drop"));
        assertEquals(Policies.DEFAULT_EVAL, EvalOptions.parsePolicies(null));
    }

    @Test
    void policies_anEmptyEntryIsRefused() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> EvalOptions.parsePolicies("full,,h2o"))
                .getMessage().contains("--policies"));
    }
}

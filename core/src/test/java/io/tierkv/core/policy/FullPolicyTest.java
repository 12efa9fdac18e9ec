package io.tierkv.core.policy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.core.Level;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The accuracy baseline: no token ever leaves NORMAL. */
class FullPolicyTest {

    @Test
    void full_neverEvicts_withOrWithoutBudget() {
        Random r = new Random(5);
        for (Driver d : new Driver[] {Driver.of("full", 3, 50), Driver.bounded("full", 3, 50, 8)}) {
            assertTrue(d.prefill(50).isEmpty());
            for (int s = 0; s < 120; s++) {
                assertTrue(d.decode((l, q, row) -> row[r.nextInt(row.length)] = 1f).isEmpty());
                d.policy.checkInvariants();
            }
            for (int l = 0; l < 3; l++) {
                assertEquals(170, d.policy.liveTokens(l));
                for (int t = 0; t < 170; t++) {
                    assertEquals(Level.NORMAL, d.level(l, t));
                }
            }
            assertEquals(0, d.policy.prefillRows(50));
            assertEquals("full", d.policy.name());
        }
    }
}

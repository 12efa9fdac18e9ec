package io.tierkv.tiering;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * The soak ({@link SoakDriver}): 10^4 operations in a normal build; {@code mvn -B -Psoak verify} (or
 * {@code -Dtierkv.soak.ops=N}) runs 10^6. Prints ops, rows checked, mismatches and leaked bytes.
 */
class SoakTest {
    @Test
    void randomOperations_onUpTo64Sequences_withCopyFaults_keepEveryRowAndLeakNothing() {
        long ops = Long.getLong("tierkv.soak.ops", 10_000);
        long seed = Long.getLong("tierkv.soak.seed", 14);
        SoakDriver.Result r = new SoakDriver(seed).run(ops);
        System.out.println(r.summary() + " (seed " + seed + ")");
        assertEquals(ops, r.ops());
        assertEquals(0, r.mismatches(), r.summary());
        assertEquals(0, r.leakedBytes(), r.summary());
        assertTrue(r.copyFailures() > 0 && r.rowsChecked() > ops, "the soak exercised faults and checked rows: " + r.summary());
    }
}

package io.tierkv.cuda.check;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The digest row of the GPU check: no target (it is reported, not judged), and its oracle check is relative to 1e-5. */
class DigestRowTest {

    @Test
    void digestRow_hasNoTarget() {
        assertTrue(Double.isNaN(KernelBenchmark.target(DigestBenchmark.ROW, "32/8 heads x 128 x 8192 blocks")));
    }

    @Test
    void check_isRelativeToOneIn1e5_andRefusesNaN() {
        assertTrue(DigestBenchmark.close(new float[] {1000f, 0.5f}, new float[] {1000.009f, 0.500009f}));
        assertFalse(DigestBenchmark.close(new float[] {1000f}, new float[] {1000.02f}));
        assertFalse(DigestBenchmark.close(new float[] {1f}, new float[] {Float.NaN}));
    }
}

package io.tierkv.model.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class UploadRingTest {
    @Test
    void rangesBetweenWaitsNeverOverlap_andAreAligned() {
        UploadRing ring = new UploadRing(1024);
        SplittableRandom r = new SplittableRandom(5);
        boolean[] used = new boolean[1024];
        for (int i = 0; i < 10_000; i++) {
            int n = r.nextInt(0, 300);
            long at = ring.reserve(n);
            assertTrue(at >= 0 && at + n <= 1024 && at % 16 == 0, n + " bytes at " + at);
            if (ring.mustWait()) {
                assertEquals(0, at);
                java.util.Arrays.fill(used, false); // the caller waited: every earlier copy has read its range
            }
            for (long b = at; b < at + n; b++) {
                assertFalse(used[(int) b], "byte " + b + " handed out twice without a wait between");
                used[(int) b] = true;
            }
        }
        assertTrue(ring.wraps() > 100);
    }

    @Test
    void theFirstRange_needsNoWait_andOneLargerThanTheRing_isRefused() {
        UploadRing ring = new UploadRing(64);
        assertEquals(0, ring.reserve(64));
        assertFalse(ring.mustWait());
        assertEquals(-1, ring.reserve(65));
        assertFalse(ring.mustWait());
        assertEquals(0, ring.reserve(1));
        assertTrue(ring.mustWait(), "the ring was full: the range at 0 reuses the first one");
        assertThrows(IllegalArgumentException.class, () -> new UploadRing(100));
    }
}

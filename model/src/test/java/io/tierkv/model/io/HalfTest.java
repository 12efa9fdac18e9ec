package io.tierkv.model.io;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class HalfTest {
    @Test
    void bf16_roundTrip_isExactForBf16Values_andRoundsToNearestEven() {
        assertEquals(1.0f, Half.fromBf16(Half.toBf16(1.0f)));
        // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties to even (1.0).
        assertEquals(1.0f, Half.fromBf16(Half.toBf16(1.0f + 0x1p-8f)));
        assertEquals(1.0f + 0x1p-7f, Half.fromBf16(Half.toBf16(1.0f + 0x1p-7f)));
        assertEquals(Float.POSITIVE_INFINITY, Half.fromBf16(Half.toBf16(Float.POSITIVE_INFINITY)));
    }

    @Test
    void f16_matchesIeeeHalf_onRandomValues() {
        SplittableRandom r = new SplittableRandom(3);
        for (int i = 0; i < 10_000; i++) {
            float f = (float) ((r.nextDouble() - 0.5) * Math.pow(2, r.nextInt(-20, 16)));
            float back = Half.fromF16(Half.toF16(f));
            float tol = Math.max(Math.abs(f) * 0x1p-11f, 0x1p-24f);
            assertEquals(f, back, tol, "value " + f);
        }
        assertEquals(65504f, Half.fromF16(Half.toF16(65504f)));
        assertEquals(Float.POSITIVE_INFINITY, Half.fromF16(Half.toF16(1e6f)));
    }
}

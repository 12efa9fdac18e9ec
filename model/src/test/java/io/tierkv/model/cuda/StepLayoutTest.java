package io.tierkv.model.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.model.llama.LlamaConfig;
import org.junit.jupiter.api.Test;

class StepLayoutTest {
    @Test
    void regions_areAligned_inOrder_andLargeEnoughForTheirTensors() {
        // D 100, F 300, 6 heads of 10 (2 KV heads), V 77: sizes that are not multiples of the alignment
        LlamaConfig c = new LlamaConfig(100, 300, 2, 6, 2, 10, 77, 64, 1e-5, 10000, null, true, 1, 2);
        StepLayout s = StepLayout.of(c);
        long[] starts = {s.h(), s.xn(), s.q(), s.k(), s.v(), s.attn(), s.lse(), s.gate(), s.up(), s.logits(), s.token(), s.bytes()};
        long[] floats = {100, 100, 60, 20, 20, 60, 6, 300, 300, 77, 1};
        boolean[] follows = {false, false, false, true, true, false, false, false, true, false, false};
        assertEquals(0, s.h());
        for (int i = 0; i < floats.length; i++) {
            if (follows[i]) { // k after q, v after k, up after gate: directly, on 16 bytes, for one stacked GEMV
                assertEquals(starts[i - 1] + floats[i - 1] * 4, starts[i], "region " + i + " follows its predecessor");
                assertEquals(0, starts[i] % 16, "region " + i + " starts on 16 bytes");
            } else {
                assertEquals(0, starts[i] % StepLayout.ALIGN, "region " + i + " starts aligned");
            }
            assertTrue(starts[i + 1] - starts[i] >= floats[i] * 4, "region " + i + " holds its " + floats[i] + " floats");
            assertTrue(starts[i + 1] - starts[i] < floats[i] * 4 + StepLayout.ALIGN, "region " + i + " wastes less than one alignment");
        }
        assertTrue(s.qkvContiguous(c));
        assertTrue(s.gateUpContiguous(c));
    }

    @Test
    void sizesOffSixteenBytes_keepEveryRegionAligned_andNothingStacked() {
        // 3 heads of 6 (q 18 floats) and F 301: k after q would start off 16 bytes
        LlamaConfig c = new LlamaConfig(18, 301, 2, 3, 3, 6, 77, 64, 1e-5, 10000, null, true, 1, 2);
        StepLayout s = StepLayout.of(c);
        for (long start : new long[] {s.q(), s.k(), s.v(), s.gate(), s.up()}) {
            assertEquals(0, start % StepLayout.ALIGN);
        }
        assertFalse(s.qkvContiguous(c));
        assertFalse(s.gateUpContiguous(c));
    }
}

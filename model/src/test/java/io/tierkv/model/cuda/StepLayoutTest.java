package io.tierkv.model.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
        assertEquals(0, s.h());
        for (int i = 0; i < floats.length; i++) {
            assertEquals(0, starts[i] % StepLayout.ALIGN, "region " + i + " starts aligned");
            assertTrue(starts[i + 1] - starts[i] >= floats[i] * 4, "region " + i + " holds its " + floats[i] + " floats");
            assertTrue(starts[i + 1] - starts[i] < floats[i] * 4 + StepLayout.ALIGN, "region " + i + " wastes less than one alignment");
        }
    }
}

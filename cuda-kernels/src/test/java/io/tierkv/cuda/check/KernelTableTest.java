package io.tierkv.cuda.check;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The GPU check's table: the targets on the right rows, met or missed, and a mismatch named. */
class KernelTableTest {

    @Test
    void targets_areOnPopularityAt32k_gemv_andPagedAttentionAt32k_only() {
        assertEquals(0.5, KernelBenchmark.target("popularity k=8", "32 x 32768"));
        assertTrue(Double.isNaN(KernelBenchmark.target("popularity k=8", "32 x 4096")), "4k is latency-bound: no target");
        assertTrue(Double.isNaN(KernelBenchmark.target("popularity k=8 (batched)", "32 x 32768 x 32 layers")));
        assertEquals(0.6, KernelBenchmark.target("gemv bf16 (weight streaming)", "14336 x 4096"));
        assertEquals(0.6, KernelBenchmark.target(DecoderBenchmark.ATTENTION_ROW, "32/8 heads x 128 x 32768"));
        assertTrue(Double.isNaN(KernelBenchmark.target(DecoderBenchmark.ATTENTION_ROW, "32/8 heads x 128 x 4096")));
        assertTrue(Double.isNaN(KernelBenchmark.target(DecoderBenchmark.HOST_ATTENTION_ROW, "32/8 heads x 128 x 4096")));
        assertTrue(Double.isNaN(KernelBenchmark.target("pinned host->device", "1 MiB")));
    }

    @Test
    void table_printsTargetsMetOrMissed_andNamesAMismatch() {
        KernelBenchmark.Row met = new KernelBenchmark.Row("gemv bf16 (weight streaming)", "14336 x 4096", 35, 3300, 2000, true);
        KernelBenchmark.Row missed = new KernelBenchmark.Row("popularity k=8", "32 x 32768", 22, 180, 970, true);
        KernelBenchmark.Row wrong = new KernelBenchmark.Row(DecoderBenchmark.ATTENTION_ROW, "32/8 heads x 128 x 4096", 10, 1600, 2400, false);
        assertTrue(met.meetsTarget());
        assertFalse(missed.meetsTarget());
        assertFalse(new KernelBenchmark.Row("gemv f32 (weight streaming)", "8192 x 4096", -5, -200, -200, true).meetsTarget(),
                "a negative time (a broken timer) meets nothing");
        String table = KernelBenchmark.table(List.of(met, missed, wrong));
        assertTrue(table.contains(">= 60% met"), table);
        assertTrue(table.contains(">= 50% MISSED"), table);
        assertTrue(table.contains("MISMATCH"), table);
        assertTrue(KernelBenchmark.json(List.of(met)).contains("\"targetShareOfCopy\": 0.60"));
    }
}

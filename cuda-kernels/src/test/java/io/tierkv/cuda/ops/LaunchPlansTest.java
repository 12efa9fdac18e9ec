package io.tierkv.cuda.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class LaunchPlansTest {

    @Test
    void gemv_bigMatrix_getsOneWarpPerRow_smallMatrix_spreadsOverEverySm() {
        assertEquals(1, LaunchPlans.gemvWarpsPerRow(14336, 132));
        assertEquals(8, LaunchPlans.gemvWarpsPerRow(64, 132));
        int w = LaunchPlans.gemvWarpsPerRow(768, 132);
        assertTrue(LaunchPlans.gemvBlocks(768, w) >= 2 * 132 || w == 8, "768 rows over " + LaunchPlans.gemvBlocks(768, w) + " CTAs");
    }

    @Test
    void gemv_blocksCoverEveryRowAtEveryWidth() {
        for (int out : new int[] {1, 7, 8, 9, 255, 4097}) {
            for (int w = 1; w <= 8; w *= 2) {
                long rows = (long) LaunchPlans.gemvBlocks(out, w) * (LaunchPlans.GEMV_WARPS / w);
                assertTrue(rows >= out && rows - out < LaunchPlans.GEMV_WARPS / w, out + " rows, " + w + " warps: " + rows);
            }
        }
        assertThrows(IllegalArgumentException.class, () -> LaunchPlans.gemvBlocks(10, 3));
    }

    @Test
    void gemm_gridCoversTheOutput_andRefusesTooManyRowTiles() {
        assertArrayEquals(new int[] {2, 1}, LaunchPlans.gemmGrid(1, 65));
        assertArrayEquals(new int[] {1, 3}, LaunchPlans.gemmGrid(129, 64));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LaunchPlans.gemmGrid(65536 * 64, 8));
        assertTrue(e.getMessage().contains("65535"), e.getMessage());
    }

    @Test
    void strideBlocks_isAtLeastOneAndCapped() {
        assertEquals(1, LaunchPlans.strideBlocks(0));
        assertEquals(1, LaunchPlans.strideBlocks(256));
        assertEquals(2, LaunchPlans.strideBlocks(257));
        assertEquals(LaunchPlans.MAX_STRIDE_BLOCKS, LaunchPlans.strideBlocks(1L << 40));
    }

    @Test
    void attentionSplits_areNonEmptyCoverEveryBlockAndFillTheGpu() {
        for (int n : new int[] {1, 2, 3, 17, 1000, 2048, 8192, 200000}) {
            for (int kv : new int[] {1, 2, 8, 32}) {
                int[] s = LaunchPlans.attentionSplits(n, kv, 132);
                int splits = s[0];
                int per = s[1];
                assertTrue((long) splits * per >= n, "covers: " + n + " " + kv);
                assertTrue((long) (splits - 1) * per < n, "last split non-empty: " + n + " " + kv);
                assertTrue(splits <= 65535);
                long wanted = Math.min(n, (LaunchPlans.ATTENTION_CTAS_PER_SM * 132 + kv - 1) / kv);
                assertTrue(2L * splits >= wanted, "at least half the wanted CTAs: n=" + n + " kv=" + kv + " splits=" + splits);
            }
        }
        assertArrayEquals(new int[] {0, 0}, LaunchPlans.attentionSplits(0, 8, 132));
    }

    @Test
    void attentionSharedBytes_matchesTheKernelsLayout() {
        // q [group][hd] + 4 warps x (acc [group][hd] + m [group] + l [group]) floats
        assertEquals(4 * (4 * 128 + 4 * (4 * 128 + 8)), LaunchPlans.attentionSharedBytes(4, 128));
        assertTrue(LaunchPlans.attentionSharedBytes(16, 256) > 48 * 1024, "needs the opt-in above 48 KiB");
    }
}

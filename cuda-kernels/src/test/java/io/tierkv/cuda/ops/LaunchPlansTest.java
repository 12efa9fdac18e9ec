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
    void pairedGemv_keepsAnEvenNumberOfRowsPerCta() {
        assertEquals(4, LaunchPlans.pairedGemvWarpsPerRow(64, 132), "8 warps per row would leave one row per CTA: no pairs");
        assertEquals(1, LaunchPlans.pairedGemvWarpsPerRow(6144, 132));
        for (int rows : new int[] {2, 16, 384, 2304, 28672}) {
            int w = LaunchPlans.pairedGemvWarpsPerRow(rows, 132);
            assertEquals(0, (LaunchPlans.GEMV_WARPS / w) % 2, rows + " rows at " + w + " warps per row");
            assertEquals(Math.min(4, LaunchPlans.gemvWarpsPerRow(rows, 132)), w);
        }
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
    void pagedAttention_splitsAreNonEmpty_coverEveryBlock_andFitOneWave() {
        for (int n : new int[] {1, 2, 3, 17, 256, 1000, 2048, 8192, 200000}) {
            for (int[] heads : new int[][] {{1, 1}, {2, 1}, {8, 2}, {8, 8}, {32, 8}, {64, 8}, {48, 4}, {32, 32}}) {
                int kv = heads[1];
                int group = heads[0] / kv;
                LaunchPlans.AttentionPlan p = LaunchPlans.pagedAttention(n, 16, kv, group, 128, 132);
                String what = "n=" + n + " heads " + heads[0] + "/" + kv + ": " + p;
                assertTrue((long) p.splits() * p.blocksPerSplit() >= n, "covers: " + what);
                assertTrue((long) (p.splits() - 1) * p.blocksPerSplit() < n, "last split non-empty: " + what);
                assertTrue(p.splits() >= 1 && p.splits() <= 65535, what);
                assertTrue(p.headsPerCta() >= Math.min(group, 8) && p.headsPerCta() * p.headChunks() >= group, "every head served: " + what);
                long slots = (long) LaunchPlans.attentionCtasPerSm(p.headsPerCta()) * 132;
                assertTrue(p.ctas(kv) <= Math.max(slots, (long) kv * p.headChunks()), "one wave: " + what);
            }
        }
    }

    @Test
    void pagedAttention_longList_fillsTheGpu_shortList_keepsTwoTilesPerSplit() {
        LaunchPlans.AttentionPlan longList = LaunchPlans.pagedAttention(2048, 16, 8, 4, 128, 132); // 32k tokens, Llama 3 8B heads
        assertEquals(4, longList.headsPerCta());
        assertEquals(1, longList.headChunks());
        assertEquals(32, longList.tileRows());
        assertTrue(longList.ctas(8) > 132 * 3 * 9 / 10, "at least 90% of one wave: " + longList);
        LaunchPlans.AttentionPlan shortList = LaunchPlans.pagedAttention(6, 16, 8, 4, 128, 132);
        assertTrue(shortList.blocksPerSplit() * 16 >= 2 * 32, "two tiles per split: " + shortList);
    }

    @Test
    void pagedAttention_headsPerCtaAndTiles_followTheKernel() {
        assertEquals(1, LaunchPlans.attentionHeadsPerCta(1));
        assertEquals(4, LaunchPlans.attentionHeadsPerCta(3));
        assertEquals(8, LaunchPlans.attentionHeadsPerCta(7));
        assertEquals(8, LaunchPlans.attentionHeadsPerCta(12));
        assertEquals(2, LaunchPlans.pagedAttention(10, 16, 2, 12, 64, 132).headChunks());
        // lanes per row: the next power of two at or above headDim / 8; 16 rows per warp-tile row of 4 x 4 warps
        assertEquals(16 * 32, LaunchPlans.attentionTileRows(8));
        assertEquals(16 * 4, LaunchPlans.attentionTileRows(40));
        assertEquals(16 * 2, LaunchPlans.attentionTileRows(128));
        assertEquals(16, LaunchPlans.attentionTileRows(256));
        for (int hd = 8; hd <= 256; hd += 8) {
            for (int g = 1; g <= 8; g *= 2) {
                assertTrue(LaunchPlans.attentionSharedBytes(g, hd) <= 48 * 1024, "no opt-in needed: hd " + hd + " G " + g);
            }
        }
        // G = 4, headDim 128: scores [4][32], reduction [4 warps][4][128], (5 + 4) x 4 statistics
        assertEquals(4 * (4 * 32 + 4 * 4 * 128 + 9 * 4), LaunchPlans.attentionSharedBytes(4, 128));
    }

    @Test
    void pagedAttention_refusesHeadDimsItCannotReadAs16ByteVectors() {
        for (int hd : new int[] {4, 12, 20, 264}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LaunchPlans.pagedAttention(4, 16, 1, 1, hd, 132));
            assertTrue(e.getMessage().contains("multiple of 8") && e.getMessage().contains(Integer.toString(hd)), e.getMessage());
        }
    }
}

package io.tierkv.cuda.popularity;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class TokenTableTest {

    @Test
    void listPositions_mapToTheTokensOfTheirBlock() {
        int[] first = {32, 0, 48}; // a list whose blocks are out of token order
        assertEquals(32, DevicePopularity.tokenOf(0, first, 16));
        assertEquals(15, DevicePopularity.tokenOf(31, first, 16));
        assertEquals(50, DevicePopularity.tokenOf(34, first, 16));
    }

    @Test
    void table_mustKeepEveryTokenInsideTheCounts() {
        DevicePopularity.checkTable(new int[] {32, 0, 48}, null, 35, 16, 51);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> DevicePopularity.checkTable(new int[] {32, 0, 48}, null, 35, 16, 50));
        assertTrue(e.getMessage().contains("blockFirstToken[2] = 48"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> DevicePopularity.checkTable(new int[] {0}, null, 17, 16, 64));
        assertThrows(IllegalArgumentException.class, () -> DevicePopularity.checkTable(new int[] {0}, new byte[3], 4, 16, 64));
        assertThrows(IllegalArgumentException.class, () -> DevicePopularity.checkTable(new int[] {-1}, null, 4, 16, 64));
    }

    @Test
    void selectTiles_coverEveryKeyWithAtLeastOneCta() {
        assertEquals(1, PopularityKernel.tiles(0, PopularityKernel.SELECT_TILE));
        assertEquals(32, PopularityKernel.tiles(32768, PopularityKernel.SELECT_TILE));
        assertEquals(33, PopularityKernel.tiles(32769, PopularityKernel.SELECT_TILE));
        assertEquals(2048, PopularityKernel.tiles(131072, PopularityKernel.TILE));
    }
}

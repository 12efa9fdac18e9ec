package io.tierkv.tiering;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class TokenMasksTest {

    @Test
    void masksAreKeptPerToken_perBlock_andInTheOrderMasked_layerByLayer() {
        TokenMasks masks = new TokenMasks(2, 4, 2); // 2 layers, blocks of 4, room for 2 blocks

        assertTrue(masks.mask(0, 5));
        assertTrue(masks.mask(0, 1));
        assertFalse(masks.mask(0, 5), "a token is masked once");
        assertTrue(masks.mask(1, 6));

        // layer 0: tokens 1 (block 0) and 5 (block 1), in that order of masking: 5, then 1
        assertEquals(2, masks.count(0));
        assertEquals(5, masks.token(0, 0));
        assertEquals(1, masks.token(0, 1));
        assertEquals(1, masks.inBlock(0, 0));
        assertEquals(1, masks.inBlock(0, 1));
        assertTrue(masks.masked(0, 1));
        assertFalse(masks.masked(0, 6), "layers are apart");
        assertEquals(1, masks.count(1));
        assertEquals(0, masks.inBlock(0, 7), "a block past the sequence has none");
        assertThrows(IndexOutOfBoundsException.class, () -> masks.token(0, 2));
    }

    @Test
    void growing_keepsWhatWasMasked() {
        TokenMasks masks = new TokenMasks(1, 4, 1);
        masks.mask(0, 2);
        masks.ensureBlocks(40);
        for (int t = 100; t < 140; t++) { // past the order list's first 16 entries
            masks.mask(0, t);
        }

        assertTrue(masks.masked(0, 2));
        assertEquals(41, masks.count(0));
        assertEquals(2, masks.token(0, 0));
        assertEquals(139, masks.token(0, 40));
        assertEquals(4, masks.inBlock(0, 30));
        assertEquals(1, masks.inBlock(0, 0));
    }
}

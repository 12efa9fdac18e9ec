package io.tierkv.cuda.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** {@link CudaPagedProbs#reference}, the contract the {@code paged_probs} kernel is held to, without a GPU. */
class PagedProbsTest {
    static final PagedKvShape S = ReferenceOpsTest.GQA;
    static final int STRIDE = 8 * S.blockSize();
    static final float UNWRITTEN = -1f;

    @Test
    void reference_headMask_writesEachHeadAtItsKvHeadsEntriesOnly_andNothingForAHeadWithNone() {
        Random r = new Random(31);
        float[] slab = ReferenceOpsTest.random(r, (int) (7 * S.slotBytes() / 4));
        float[] q = ReferenceOpsTest.random(r, S.heads() * S.headDim());
        float[] lse = new float[S.heads()];
        Arrays.fill(lse, 2.5f);
        int[] slots = {5, 0, 3, 6, 2};
        int[] valid = {4, 4, 4, 4, 3};
        int[] blocks = {4, 0, 7, 2, 5}; // token positions, not in list order
        byte[] mask = new byte[5 * S.blockSize()];
        mask[1] = 1; // entry 0, row 1 and entry 2, row 3 evicted for every head
        mask[11] = 1;
        byte[] headMask = ReferenceOpsTest.HEAD_MASK;
        float[] masked = unwritten();
        CudaPagedProbs.reference(S, q, slab, slots, valid, mask, headMask, blocks, 5, 0.4f, lse, masked, STRIDE);
        for (int g = 0; g < S.kvHeads(); g++) {
            int[] kept = ReferenceOpsTest.keptFor(headMask, S.kvHeads(), g, 5);
            float[] sub = unwritten();
            CudaPagedProbs.reference(S, q, slab, ReferenceOpsTest.entriesOf(slots, kept), ReferenceOpsTest.entriesOf(valid, kept),
                    ReferenceOpsTest.rowsOf(mask, S.blockSize(), kept), ReferenceOpsTest.entriesOf(blocks, kept), kept.length, 0.4f, lse,
                    sub, STRIDE);
            for (int h = g * S.group(); h < (g + 1) * S.group(); h++) {
                assertArrayEquals(row(sub, h), row(masked, h), "head " + h);
            }
        }
        assertEquals(3 * 4 - 2, written(row(masked, 0)), "head 0: the live rows of entries 0, 2 and 3");
        for (int h = 3 * S.group(); h < 4 * S.group(); h++) { // KV head 3 keeps no entry
            for (float p : row(masked, h)) {
                assertEquals(UNWRITTEN, p, "head " + h);
            }
        }
    }

    @Test
    void reference_refusesAHeadMaskShorterThanTheList() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> CudaPagedProbs.reference(S, new float[S.heads() * S.headDim()], new float[(int) (2 * S.slotBytes() / 4)],
                        new int[] {0, 1}, null, null, new byte[7], new int[] {0, 1}, 2, 1f, new float[S.heads()], unwritten(), STRIDE));
        assertTrue(e.getMessage().contains("headMask must hold nBlocks * kvHeads = 2 * 4 bytes, had 7"), e.getMessage());
    }

    static float[] unwritten() {
        float[] probs = new float[S.heads() * STRIDE];
        Arrays.fill(probs, UNWRITTEN);
        return probs;
    }

    static float[] row(float[] probs, int h) {
        return Arrays.copyOfRange(probs, h * STRIDE, (h + 1) * STRIDE);
    }

    static int written(float[] row) {
        int n = 0;
        for (float p : row) {
            n += p != UNWRITTEN ? 1 : 0;
        }
        return n;
    }
}

package io.tierkv.cuda.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.core.DType;
import io.tierkv.core.memory.MemoryLedger;
import io.tierkv.cuda.driver.CudaContext;
import io.tierkv.cuda.driver.CudaStream;
import io.tierkv.cuda.driver.DeviceBuffer;
import io.tierkv.cuda.driver.Gpu;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The {@code paged_probs} kernel against {@link CudaPagedProbs#reference}: every KV dtype, GQA, shuffled slots with one
 * outside the slab, a partial last block, evicted rows, token positions out of list order and some past the stride, with
 * and without a head mask (one KV head keeping no entry); what the reference leaves unwritten the kernel leaves too.
 */
@Tag("gpu")
class PagedProbsGpuTest {
    static final float UNWRITTEN = -1f;

    @BeforeEach
    void needsGpu() {
        Gpu.assumeCuda();
    }

    @Test
    void probs_matchTheReference_everyDtype_withAndWithoutAHeadMask() {
        SplittableRandom r = new SplittableRandom(37);
        MemoryLedger.Snapshot before = MemoryLedger.snapshot();
        try (CudaContext ctx = CudaContext.primary(0); CudaStream s = new CudaStream(ctx); CudaPagedProbs pp = new CudaPagedProbs(ctx);
             DeviceArrays d = new DeviceArrays(ctx, s)) {
            for (DType t : DType.values()) {
                // groups of 4 and 12 (two reads of the key: 8 heads, then 4); 7-wide heads: keys not 16-byte aligned, element loads
                for (int[] g : new int[][] {{8, 2, 32, 8}, {24, 2, 64, 16}, {6, 2, 7, 8}}) {
                    PagedKvShape shape = PagedKvShape.dense(t, g[0], g[1], g[2], g[3]);
                    for (int nBlocks : new int[] {9, 300}) {
                        for (boolean headMasked : new boolean[] {false, true}) {
                            check(r, d, pp, s, shape, nBlocks, headMasked);
                        }
                    }
                    d.close();
                }
            }
        }
        before.assertNoLeaks();
    }

    private static void check(SplittableRandom r, DeviceArrays d, CudaPagedProbs pp, CudaStream s, PagedKvShape shape, int nBlocks,
                              boolean headMasked) {
        PagedAttentionGpuTest.Case c = PagedAttentionGpuTest.Case.random(r, shape, nBlocks, true);
        int[] slots = c.slots().clone();
        slots[nBlocks / 2] = c.capacity() + 3; // outside the slab: skipped
        int[] blocks = new int[nBlocks];
        for (int i = 0; i < nBlocks; i++) {
            blocks[i] = (i * 5) % (nBlocks + 2); // not in list order
        }
        int stride = (nBlocks + 2) * shape.blockSize() - 3; // the last block's last rows fall past the stride
        float[] lse = new float[shape.heads()];
        for (int h = 0; h < lse.length; h++) {
            lse[h] = 3 + (float) r.nextDouble();
        }
        byte[] headMask = headMasked ? DeviceArrays.randomHeadMask(r, nBlocks, shape.kvHeads()) : null;
        float scale = (float) (1 / Math.sqrt(shape.headDim()));
        float[] want = new float[shape.heads() * stride];
        Arrays.fill(want, UNWRITTEN);
        float[] initial = want.clone();
        CudaPagedProbs.reference(shape, c.q(), c.slab(), slots, c.valid(), c.mask(), headMask, blocks, nBlocks, scale, lse, want, stride);

        DeviceBuffer slab = d.typed(c.slab(), shape.dtype());
        DeviceBuffer dHeadMask = headMask == null ? null : d.bytes(headMask);
        DeviceBuffer probs = d.floats(initial);
        pp.probsAsync(shape, d.floats(c.q()).address(), slab.address(), slab.bytes(), d.ints(slots).address(), d.ints(c.valid()).address(),
                d.bytes(c.mask()).address(), dHeadMask == null ? 0 : dHeadMask.address(), d.ints(blocks).address(), nBlocks, scale,
                d.floats(lse).address(), probs.address(), stride, s);
        float[] got = d.download(probs, want.length);
        // the same list as two parts in one launch (a tiered sequence's device blocks, then its host blocks): the same writes
        int split = nBlocks / 3;
        DeviceBuffer probs2 = d.floats(initial);
        DeviceBuffer dSlots = d.ints(slots);
        DeviceBuffer dValid = d.ints(c.valid());
        DeviceBuffer dMask = d.bytes(c.mask());
        DeviceBuffer dBlocks = d.ints(blocks);
        long hm = dHeadMask == null ? 0 : dHeadMask.address();
        PagedPart first = new PagedPart(slab.address(), slab.bytes(), dSlots.address(), dValid.address(), dBlocks.address(), dMask.address(), hm,
                split);
        PagedPart second = new PagedPart(slab.address(), slab.bytes(), dSlots.address() + 4L * split, dValid.address() + 4L * split,
                dBlocks.address() + 4L * split, dMask.address() + (long) split * shape.blockSize(),
                hm == 0 ? 0 : hm + (long) split * shape.kvHeads(), nBlocks - split);
        pp.probsPartsAsync(shape, d.floats(c.q()).address(), first, second, scale, d.floats(lse).address(), probs2.address(), stride, s);
        assertArrayEquals(got, d.download(probs2, want.length), "two parts in one launch write what one part does");

        String what = shape + " blocks " + nBlocks + (headMasked ? " head-masked" : "");
        int written = 0;
        for (int i = 0; i < want.length; i++) {
            if (want[i] == UNWRITTEN) {
                assertEquals(UNWRITTEN, got[i], what + ": probability " + i + " must be left unwritten");
            } else {
                assertEquals(want[i], got[i], 2e-6 + 1e-5 * want[i], what + ": probability " + i);
                written++;
            }
        }
        assertTrue(written > want.length / 10, what + ": a fair share of the positions was written: " + written); // 12% to 81% here
    }
}

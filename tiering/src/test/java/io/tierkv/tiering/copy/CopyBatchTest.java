package io.tierkv.tiering.copy;

import static org.junit.jupiter.api.Assertions.*;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class CopyBatchTest {
    @Test
    void pairsBecomeRuns_inSourceOrder_upToTheLongestRun() {
        CopyBatch batch = new CopyBatch(CopyDirection.DEVICE_TO_HOST, 2);
        for (int[] p : new int[][] {{7, 1}, {3, 10}, {4, 11}, {5, 12}, {9, 2}}) {
            batch.add(p[0], p[1]);
        }
        List<String> runs = new ArrayList<>();
        assertEquals(4, batch.drainRuns((d, src, dst, slots) -> runs.add(src + "->" + dst + " x" + slots)));
        assertEquals(List.of("3->10 x2", "5->12 x1", "7->1 x1", "9->2 x1"), runs);
        assertEquals(0, batch.size());
    }

    /** A consumer that fails (a copy engine whose device faulted) empties the batch all the same: no run goes twice. */
    @Test
    void aConsumerThatThrows_leavesTheBatchEmpty_soNothingIsSubmittedTwice() {
        CopyBatch batch = new CopyBatch(CopyDirection.HOST_TO_DEVICE, 8);
        batch.add(1, 1);
        batch.add(5, 5);
        assertThrows(IllegalStateException.class, () -> batch.drainRuns((d, src, dst, slots) -> {
            throw new IllegalStateException("device fault");
        }));
        assertEquals(0, batch.size());
        List<Integer> sources = new ArrayList<>();
        batch.add(9, 9);
        batch.drainRuns((d, src, dst, slots) -> sources.add(src));
        assertEquals(List.of(9), sources);
    }
}

package io.tierkv.tiering;

import static org.junit.jupiter.api.Assertions.*;

import io.tierkv.core.DType;
import io.tierkv.core.KvLayout;
import io.tierkv.core.Level;
import io.tierkv.core.Tier;
import io.tierkv.core.memory.MemoryLedger;
import io.tierkv.cuda.driver.Backend;
import io.tierkv.tiering.copy.CopyDirection;
import io.tierkv.tiering.copy.CopyFaults;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Exact residency decisions of the tier manager on the CPU backend, one layer, blocks of 4 tokens. */
class TierManagerTest {
    /** One layer, one KV head of 4 floats, blocks of 4 tokens: 128-byte slots. */
    static final KvLayout ONE_LAYER = new KvLayout(1, 1, 4, DType.F32, 4);

    private MemoryLedger.Snapshot ledger;

    @BeforeEach
    void snapshotLedger() {
        ledger = MemoryLedger.snapshot();
    }

    @AfterEach
    void nothingLeaked() {
        ledger.assertNoLeaks();
    }

    static TierManager manager(int device, int host, CopyFaults faults) {
        return TierManager.create(TierConfig.builder(ONE_LAYER).backend(Backend.CPU).deviceCapacityBlocks(device)
                .hostCapacityBlocks(host).faults(faults).build());
    }

    /** Copies wait on the copy thread until the gate opens. */
    static final class Gate implements CopyFaults {
        final CountDownLatch open = new CountDownLatch(1);

        @Override
        public long delayNanos(CopyDirection direction, int srcSlot, int dstSlot, int slots) {
            try {
                assertTrue(open.await(10, TimeUnit.SECONDS));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return 0;
        }
    }

    private static void heat(KvHarness h, int block, int value) {
        for (int t = block * 4; t < block * 4 + 4; t++) {
            h.policy.setHeat(0, t, value);
        }
    }

    private static int[] deviceBlocks(Sequence s) {
        LayerView v = s.view(0);
        return IntStream.range(0, v.deviceCount()).map(v::deviceBlock).toArray();
    }

    private static int[] hostBlocks(Sequence s) {
        LayerView v = s.view(0);
        return IntStream.range(0, v.hostCount()).map(v::hostBlock).toArray();
    }

    @Test
    void lowBlock_isReadFromTheDevice_untilItsCopyLands() {
        Gate gate = new Gate();
        try (TierManager m = manager(8, 8, gate)) {
            KvHarness h = new KvHarness(m, 8, Integer.MAX_VALUE);
            h.append(12);
            h.sequence.endPrefill();
            h.setBlock(0, 0, Level.LOW_CODE);
            h.sequence.step();
            // copy of block 0 in flight: readers still use its device slot
            assertEquals(Tier.DEVICE, h.sequence.tier(0, 0));
            assertTrue(h.sequence.inFlight(0, 0));
            assertArrayEquals(new int[] {0, 1, 2}, deviceBlocks(h.sequence));
            assertArrayEquals(new int[] {}, hostBlocks(h.sequence));
            assertEquals(4, m.deviceArena().used() + m.hostArena().used(), "source and destination are both held");
            h.verify();
            h.sequence.step();
            assertEquals(Tier.DEVICE, h.sequence.tier(0, 0), "a step does not flip residency before the copy lands");
            gate.open.countDown();
            m.awaitCopies();
            // device: 1 2   host: 0
            assertArrayEquals(new int[] {1, 2}, deviceBlocks(h.sequence));
            assertArrayEquals(new int[] {0}, hostBlocks(h.sequence));
            assertEquals(2, m.deviceArena().used());
            h.verify();
            TierStats stats = m.stats();
            assertEquals(1, stats.d2hBlocks());
            assertEquals(ONE_LAYER.blockBytes(), stats.d2hBytes());
            m.checkInvariants();
        }
    }

    @Test
    void evictingABlockInFlight_freesItsSlotsWhenTheCopyLands() {
        Gate gate = new Gate();
        try (TierManager m = manager(8, 8, gate)) {
            KvHarness h = new KvHarness(m, 8, Integer.MAX_VALUE);
            h.append(12);
            h.sequence.endPrefill();
            h.setBlock(0, 0, Level.LOW_CODE);
            h.sequence.step();
            h.setBlock(0, 0, Level.EVICT_CODE);
            h.sequence.step();
            assertEquals(Tier.NONE, h.sequence.tier(0, 0));
            assertArrayEquals(new int[] {1, 2}, deviceBlocks(h.sequence));
            assertEquals(1, m.hostArena().used(), "the destination stays held while the copy may still write it");
            assertEquals(3, m.deviceArena().used(), "and so does the source");
            m.checkInvariants();
            gate.open.countDown();
            m.awaitCopies();
            assertEquals(0, m.hostArena().used());
            assertEquals(2, m.deviceArena().used());
            assertEquals(1, m.stats().evictedBlocks());
            h.verify();
            m.checkInvariants();
        }
    }

    @Test
    void overDeviceBudget_leastPopularMoveFirst_byLevelThenHeatThenAge() {
        try (TierManager m = manager(8, 8, CopyFaults.NONE)) {
            KvHarness h = new KvHarness(m, 3, Integer.MAX_VALUE);
            h.append(20);
            // blocks 0..4, tail 4; block 2 CACHE; heat: 1 hot, 3 warm, 0 cold
            h.setBlock(0, 2, Level.CACHE_CODE);
            heat(h, 1, 10);
            heat(h, 3, 5);
            h.sequence.endPrefill();
            m.awaitCopies();
            // device: 1 2 4   host: 0 3
            assertArrayEquals(new int[] {1, 2, 4}, deviceBlocks(h.sequence));
            assertArrayEquals(new int[] {0, 3}, hostBlocks(h.sequence));
            assertTrue(h.sequence.withinDeviceBudget());
            h.verify();
            m.checkInvariants();
        }
    }

    @Test
    void normalBlockOnTheHost_comesBackWhenTheBudgetHasRoom_mostPopularFirst() {
        try (TierManager m = manager(8, 8, CopyFaults.NONE)) {
            KvHarness h = new KvHarness(m, 3, Integer.MAX_VALUE);
            h.append(20);
            h.setBlock(0, 2, Level.CACHE_CODE);
            heat(h, 1, 10);
            heat(h, 3, 5);
            h.sequence.endPrefill();
            m.awaitCopies();
            h.setBlock(0, 1, Level.EVICT_CODE);
            h.sequence.step();
            m.awaitCopies();
            // block 1 freed; room for one: block 3 (heat 20) beats block 0 (heat 0)
            assertArrayEquals(new int[] {2, 3, 4}, deviceBlocks(h.sequence));
            assertArrayEquals(new int[] {0}, hostBlocks(h.sequence));
            assertEquals(1, m.stats().h2dBlocks());
            h.verify();
            m.checkInvariants();
        }
    }

    @Test
    void hostBlockOfABetterLevel_swapsWithTheWorstDeviceBlock_equalLevelsDoNot() {
        try (TierManager m = manager(8, 8, CopyFaults.NONE)) {
            KvHarness h = new KvHarness(m, 3, Integer.MAX_VALUE);
            h.append(20);
            h.setBlock(0, 2, Level.CACHE_CODE);
            heat(h, 1, 10);
            heat(h, 3, 5);
            h.sequence.endPrefill();
            m.awaitCopies();
            heat(h, 3, 50);
            h.sequence.step();
            m.awaitCopies();
            assertArrayEquals(new int[] {1, 2, 4}, deviceBlocks(h.sequence), "hotter but equal level: no swap");
            h.setBlock(0, 0, Level.CACHE_CODE);
            h.sequence.step();
            m.awaitCopies();
            // block 0 (CACHE) swaps with block 1 (NORMAL); block 2 is CACHE and stays
            assertArrayEquals(new int[] {0, 2, 4}, deviceBlocks(h.sequence));
            assertArrayEquals(new int[] {1, 3}, hostBlocks(h.sequence));
            h.verify();
            m.checkInvariants();
        }
    }

    @Test
    void hostBudget_dropsTheLeastPopular_countsIt_andItsTokensReadAsEvicted() {
        try (TierManager m = manager(8, 8, CopyFaults.NONE)) {
            KvHarness h = new KvHarness(m, 2, 1);
            h.append(16);
            h.sequence.endPrefill();
            m.awaitCopies();
            // over budget by 2: blocks 0 and 1 leave; host room for one: the older, block 0, is dropped
            assertArrayEquals(new int[] {2, 3}, deviceBlocks(h.sequence));
            assertArrayEquals(new int[] {1}, hostBlocks(h.sequence));
            assertEquals(Tier.NONE, h.sequence.tier(0, 0));
            assertEquals(1, h.sequence.droppedBlocks());
            assertEquals(1, m.stats().droppedBlocks());
            for (int t = 0; t < 4; t++) {
                assertEquals(Level.EVICT_CODE, h.sequence.level(0, t));
            }
            assertEquals(Level.NORMAL_CODE, h.sequence.level(0, 4));
            assertEquals(12, h.sequence.keptTokens());
            // a later demotion with the host full drops the less popular of the host block and itself
            heat(h, 3, 7);
            h.append(1);
            h.sequence.step();
            m.awaitCopies();
            // block 2 (heat 0; block 3 is hot) demoted; the full host holds block 1, as cold and older: dropped for it
            assertArrayEquals(new int[] {3, 4}, deviceBlocks(h.sequence));
            assertArrayEquals(new int[] {2}, hostBlocks(h.sequence));
            assertEquals(2, m.stats().droppedBlocks());
            assertEquals(9, h.sequence.keptTokens());
            h.verify();
            m.checkInvariants();
        }
    }

    @Test
    void appendIntoAFullArena_movesWrittenBlocksOfAnotherSequenceToTheHost() {
        try (TierManager m = manager(6, 8, CopyFaults.NONE)) {
            KvHarness a = new KvHarness(m, 6, Integer.MAX_VALUE);
            a.append(16);
            a.sequence.endPrefill();
            heat(a, 1, 3);
            KvHarness b = new KvHarness(m, 6, Integer.MAX_VALUE);
            b.append(12);
            // b needed 3 slots, 2 were free: a's least popular written block (0) made room
            assertEquals(Tier.HOST, a.sequence.tier(0, 0));
            assertArrayEquals(new int[] {1, 2, 3}, deviceBlocks(a.sequence));
            assertArrayEquals(new int[] {0, 1, 2}, deviceBlocks(b.sequence));
            assertTrue(m.stats().stallNanos() > 0, "the append waited for the demotion");
            a.verify();
            b.verify();
            m.checkInvariants();
        }
    }

    @Test
    void appendLargerThanTheArena_throwsAndChangesNothing() {
        try (TierManager m = manager(4, 8, CopyFaults.NONE)) {
            KvHarness h = new KvHarness(m, 4, Integer.MAX_VALUE);
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> h.append(17));
            assertTrue(e.getMessage().contains("needs 5 device slots") && e.getMessage().contains("deviceCapacityBlocks"), e.getMessage());
            assertEquals(0, h.sequence.length());
            assertEquals(0, h.policy.length());
            h.append(16);
            h.verify();
            m.checkInvariants();
        }
    }

    @Test
    void appendOfAWholePrompt_overshootsTheBudget_untilTheEndOfPrefill() {
        try (TierManager m = manager(16, 16, CopyFaults.NONE)) {
            KvHarness h = new KvHarness(m, 2, Integer.MAX_VALUE);
            h.append(24);
            assertEquals(6, h.sequence.committedDeviceBlocks(), "blocks being written stay on the device");
            assertFalse(h.sequence.withinDeviceBudget());
            h.sequence.endPrefill();
            assertTrue(h.sequence.withinDeviceBudget());
            m.awaitCopies();
            assertArrayEquals(new int[] {4, 5}, deviceBlocks(h.sequence));
            h.verify();
        }
    }

    @Test
    void writesGoOnlyToBlocksSettledOnTheDevice() {
        try (TierManager m = manager(8, 8, CopyFaults.NONE)) {
            KvHarness h = new KvHarness(m, 8, Integer.MAX_VALUE);
            h.append(8);
            h.sequence.endPrefill();
            h.setBlock(0, 0, Level.LOW_CODE);
            h.sequence.step();
            IllegalStateException inFlight = assertThrows(IllegalStateException.class, () -> h.sequence.keyAddress(0, 1));
            assertTrue(inFlight.getMessage().contains("TO_HOST"), inFlight.getMessage());
            m.awaitCopies();
            assertThrows(IllegalStateException.class, () -> h.sequence.valueAddress(0, 2));
            assertThrows(IndexOutOfBoundsException.class, () -> h.sequence.keyAddress(0, 8));
            assertThrows(IndexOutOfBoundsException.class, () -> h.sequence.keyAddress(1, 4));
            long base = m.deviceBaseAddress();
            long k = h.sequence.keyAddress(0, 5);
            long v = h.sequence.valueAddress(0, 5);
            assertEquals(0, (k - base - m.descriptor().rowBytes()) % m.slotBytes(), "row 1 of a slot");
            assertEquals(m.descriptor().halfBytes(), v - k);
        }
    }

    @Test
    void residencySamples_oneRowPerStep() {
        try (TierManager m = manager(8, 8, CopyFaults.NONE)) {
            KvHarness h = new KvHarness(m, 8, Integer.MAX_VALUE);
            h.append(8);
            h.sequence.endPrefill();
            h.append(1);
            h.sequence.step();
            h.append(1);
            h.sequence.step();
            var samples = m.stats().residency();
            assertEquals(3, samples.size());
            assertEquals(new TierStats.ResidencySample(h.sequence.id(), 2, 3, 0, 10), samples.get(2));
        }
    }
}

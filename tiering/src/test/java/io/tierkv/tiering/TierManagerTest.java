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
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Exact residency decisions of the tier manager (core's placement carried out with copies) on the CPU backend, one
 * layer, blocks of 4 tokens. The scripted policy is in drop mode: EVICT frees.
 */
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

    private static int[] deviceBlocks(Sequence s) {
        LayerView v = s.view(0);
        return IntStream.range(0, v.deviceCount()).map(v::deviceBlock).toArray();
    }

    private static int[] hostBlocks(Sequence s) {
        LayerView v = s.view(0);
        return IntStream.range(0, v.hostCount()).map(v::hostBlock).toArray();
    }

    /** Views after every operation of a scripted decode: requests wander over the blocks, so blocks move both ways. */
    private static String scriptedViews(CopyFaults faults) {
        StringBuilder out = new StringBuilder();
        try (TierManager m = manager(8, 64, faults)) {
            KvHarness h = new KvHarness(m, 5, Integer.MAX_VALUE);
            SplittableRandom rnd = new SplittableRandom(42);
            h.append(16);
            h.sequence.endPrefill();
            for (int step = 0; step < 120; step++) {
                h.append(1);
                out.append(Arrays.toString(deviceBlocks(h.sequence))).append(Arrays.toString(hostBlocks(h.sequence))).append('|');
                int blocks = h.sequence.view(0).length() / 4;
                h.request(0, rnd.nextInt(Math.max(1, blocks - 1)), 1 + rnd.nextInt(3));
                h.sequence.step();
                out.append(Arrays.toString(deviceBlocks(h.sequence))).append(Arrays.toString(hostBlocks(h.sequence))).append('\n');
            }
            m.awaitCopies();
            h.verify();
            assertTrue(m.stats().h2dBlocks() > 0 && m.stats().d2hBlocks() > 0, "the script moves blocks both ways");
        }
        return out.toString();
    }

    @Test
    void residency_dependsOnTheCallsOnly_notOnHowFastCopiesRun() {
        String fast = scriptedViews(CopyFaults.NONE);
        AtomicLong n = new AtomicLong();
        CopyFaults slow = new CopyFaults() {
            @Override
            public long delayNanos(CopyDirection direction, int srcSlot, int dstSlot, int slots) {
                return n.incrementAndGet() % 3 == 0 ? 2_000_000 : 0;   // every third copy takes 2 ms more
            }
        };
        assertEquals(fast, scriptedViews(slow));
    }

    /**
     * An arena larger than the sequence's budget (the CUDA decoder's, reused across prompts): a block being demoted keeps
     * its device slot until the copy lands, and those slots count, so the sequence never holds more device slots than its
     * budget while copies are slow; it waits for them instead, as it would in an arena of exactly its budget.
     */
    @Test
    void inFlightDemotions_countAgainstTheDeviceBudget_inALargerArena() {
        CopyFaults slow = new CopyFaults() {
            @Override
            public long delayNanos(CopyDirection direction, int srcSlot, int dstSlot, int slots) {
                return 1_000_000; // every copy 1 ms: the next block arrives while the last demotion is in flight
            }
        };
        try (TierManager m = manager(12, 64, slow)) {
            KvHarness h = new KvHarness(m, 3, Integer.MAX_VALUE);
            h.append(4);
            h.sequence.endPrefill();
            int most = 0;
            for (int t = 0; t < 40; t++) {
                h.append(1);
                most = Math.max(most, m.deviceArena().used());
                h.sequence.step();
                most = Math.max(most, m.deviceArena().used());
            }
            m.awaitCopies();
            h.verify();
            assertTrue(m.stats().d2hBlocks() >= 5, "blocks were demoted: " + m.stats().d2hBlocks());
            assertTrue(most <= 3, "device slots held at most the budget's 3, were " + most);
            assertTrue(m.stats().deviceBlocksPeak() <= 3, "device peak " + m.stats().deviceBlocksPeak());
        }
    }

    @Test
    void blockPlacedOnTheHost_isReadFromTheDevice_untilItsCopyLands() {
        Gate gate = new Gate();
        try (TierManager m = manager(8, 8, gate)) {
            KvHarness h = new KvHarness(m, 3, Integer.MAX_VALUE);
            h.append(16);
            // room for two placed blocks besides the tail: 0 and 1 stay; 2, worth no more than the victim, leaves
            h.sequence.endPrefill();
            assertEquals(Tier.DEVICE, h.sequence.tier(0, 2));
            assertTrue(h.sequence.inFlight(0, 2));
            assertArrayEquals(new int[] {0, 1, 2, 3}, deviceBlocks(h.sequence));
            assertArrayEquals(new int[] {}, hostBlocks(h.sequence));
            assertEquals(5, m.deviceArena().used() + m.hostArena().used(), "source and destination are both held");
            h.verify();
            h.sequence.step();
            assertEquals(Tier.DEVICE, h.sequence.tier(0, 2), "a step does not flip residency before the copy lands");
            gate.open.countDown();
            m.awaitCopies();
            // device: 0 1 3   host: 2
            assertArrayEquals(new int[] {0, 1, 3}, deviceBlocks(h.sequence));
            assertArrayEquals(new int[] {2}, hostBlocks(h.sequence));
            assertEquals(3, m.deviceArena().used());
            h.verify();
            TierStats stats = m.stats();
            assertEquals(1, stats.d2hBlocks());
            assertEquals(ONE_LAYER.blockBytes(), stats.d2hBytes());
            m.checkInvariants();
        }
    }

    @Test
    void evictingABlockInFlight_inDropMode_freesItsSlotsWhenTheCopyLands() {
        Gate gate = new Gate();
        try (TierManager m = manager(8, 8, gate)) {
            KvHarness h = new KvHarness(m, 3, Integer.MAX_VALUE);
            h.append(16);
            h.sequence.endPrefill();
            assertTrue(h.sequence.inFlight(0, 2));
            h.setBlock(0, 2, Level.EVICT_CODE);
            h.sequence.step();
            assertEquals(Tier.NONE, h.sequence.tier(0, 2));
            assertTrue(h.sequence.masked(0, 9), "an evicted block's tokens are masked at once");
            assertEquals(4, h.sequence.maskedRows(0, 2), "all four rows of the freed block");
            assertEquals(0, h.sequence.maskedRows(0, 1));
            assertEquals(0, h.sequence.maskedRows(0, 99), "past the sequence");
            assertArrayEquals(new int[] {0, 1, 3}, deviceBlocks(h.sequence));
            assertEquals(1, m.hostArena().used(), "the destination stays held while the copy may still write it");
            assertEquals(4, m.deviceArena().used(), "and so does the source");
            m.checkInvariants();
            gate.open.countDown();
            m.awaitCopies();
            assertEquals(0, m.hostArena().used());
            assertEquals(3, m.deviceArena().used());
            assertEquals(1, m.stats().evictedBlocks());
            h.verify();
            m.checkInvariants();
        }
    }

    @Test
    void overDeviceBudget_leastValuableLeaveFirst_requestsAtPrefillDecide() {
        try (TierManager m = manager(8, 8, CopyFaults.NONE)) {
            KvHarness h = new KvHarness(m, 3, Integer.MAX_VALUE);
            h.append(20);
            // the prompt's own queries request block 1 twice and block 3 once; blocks 0..3 are placed in order
            h.request(0, 1, 2);
            h.request(0, 3, 1);
            h.sequence.endPrefill();
            m.awaitCopies();
            // 0 and 1 fill the room; 2 (never requested) does not beat 0 and leaves; 3 beats 0, which leaves
            // device: 1 3 4   host: 0 2
            assertArrayEquals(new int[] {1, 3, 4}, deviceBlocks(h.sequence));
            assertArrayEquals(new int[] {0, 2}, hostBlocks(h.sequence));
            assertTrue(h.sequence.withinDeviceBudget());
            h.verify();
            m.checkInvariants();
        }
    }

    @Test
    void equalRequests_theBetterLevelStays() {
        try (TierManager m = manager(8, 8, CopyFaults.NONE)) {
            KvHarness h = new KvHarness(m, 2, Integer.MAX_VALUE);
            h.append(16);
            h.setBlock(0, 2, Level.CACHE_CODE);
            h.sequence.endPrefill();
            m.awaitCopies();
            // room for one: 0 is placed first, 1 (same value) leaves, 2 is CACHE and beats 0
            assertArrayEquals(new int[] {2, 3}, deviceBlocks(h.sequence));
            assertArrayEquals(new int[] {0, 1}, hostBlocks(h.sequence));
            h.verify();
        }
    }

    @Test
    void hostBlock_requestedUntilWorthMoreThanTheVictim_isPromoted_andTheVictimLeaves() {
        try (TierManager m = manager(8, 8, CopyFaults.NONE)) {
            KvHarness h = new KvHarness(m, 3, Integer.MAX_VALUE);
            h.append(20);
            h.request(0, 1, 2);
            h.request(0, 3, 1);
            h.sequence.endPrefill();
            m.awaitCopies();
            h.sequence.step();
            // device: 1 3 4   host: 0 2; three requests make block 2 worth more than block 3 (one old request)
            h.request(0, 2, 3);
            h.sequence.step();
            m.awaitCopies();
            assertArrayEquals(new int[] {1, 2, 4}, deviceBlocks(h.sequence));
            assertArrayEquals(new int[] {0, 3}, hostBlocks(h.sequence));
            assertEquals(1, m.stats().h2dBlocks());
            // one request for block 0 does not make it worth more than the victim (block 1, two requests): read in place
            h.request(0, 0, 1);
            h.sequence.step();
            m.awaitCopies();
            assertArrayEquals(new int[] {1, 2, 4}, deviceBlocks(h.sequence));
            assertEquals(1, m.stats().h2dBlocks());
            h.verify();
            m.checkInvariants();
        }
    }

    @Test
    void hostBudget_freesTheLeastValuable_countsIt_andItsTokensReadAsEvicted() {
        try (TierManager m = manager(8, 8, CopyFaults.NONE)) {
            KvHarness h = new KvHarness(m, 2, 1);
            h.append(16);
            h.sequence.endPrefill();
            m.awaitCopies();
            // room for one: 0 stays; 1 and 2 go to the host, which holds one: the older, 1, is freed
            assertArrayEquals(new int[] {0, 3}, deviceBlocks(h.sequence));
            assertArrayEquals(new int[] {2}, hostBlocks(h.sequence));
            assertEquals(Tier.NONE, h.sequence.tier(0, 1));
            assertEquals(1, h.sequence.droppedBlocks());
            assertEquals(1, m.stats().droppedBlocks());
            for (int t = 4; t < 8; t++) {
                assertEquals(Level.EVICT_CODE, h.sequence.level(0, t));
                assertTrue(h.sequence.masked(0, t));
            }
            assertEquals(4, h.sequence.maskedRows(0, 1), "the dropped block's rows, counted per block");
            assertEquals(0, h.sequence.maskedRows(0, 2));
            assertEquals(Level.NORMAL_CODE, h.sequence.level(0, 0));
            assertEquals(12, h.sequence.keptTokens());
            h.verify();
            m.checkInvariants();
        }
    }

    /**
     * The version a reader keeps its copy of a view by: still while the tail block fills, moved by a new block, a
     * demotion (also one another sequence's append caused) and a masked token.
     */
    @Test
    void residencyVersion_movesWithTheBlocks_notWhileTheTailFills() {
        try (TierManager m = manager(6, 8, CopyFaults.NONE)) {
            KvHarness a = new KvHarness(m, 6, Integer.MAX_VALUE);
            a.append(1);
            long v = a.sequence.residencyVersion(0);
            a.append(3);
            assertEquals(v, a.sequence.residencyVersion(0), "the tail block filled: nothing else changed");
            assertEquals(4, a.sequence.view(0).length(), "the kept view's length moves on");
            a.append(1);
            assertNotEquals(v, v = a.sequence.residencyVersion(0), "a block opened");
            a.append(11);
            a.sequence.endPrefill();
            v = a.sequence.residencyVersion(0);
            KvHarness b = new KvHarness(m, 6, Integer.MAX_VALUE);
            b.append(12); // needs a's least valuable block's slot: it goes to the host
            assertEquals(Tier.HOST, a.sequence.tier(0, 0));
            assertNotEquals(v, v = a.sequence.residencyVersion(0), "another sequence's append moved a block");
            assertArrayEquals(new int[] {0}, hostBlocks(a.sequence));
            a.setBlock(0, 1, Level.EVICT_CODE); // drop mode: the block's tokens are masked and it is freed
            a.append(1);
            a.sequence.step();
            assertTrue(a.sequence.masked(0, 4));
            assertNotEquals(v, a.sequence.residencyVersion(0), "tokens were masked");
            assertEquals(Tier.NONE, a.sequence.tier(0, 1));
            a.verify();
            b.verify();
        }
    }

    /**
     * Tokens masked alone (a block keeps some live tokens) move the mask version exactly as much as the residency version, and
     * are listed in the order masked; a freed block moves the residency version further.
     */
    @Test
    void maskVersion_namesTheChangesThatWereOnlyMasks_andMaskedTokenListsThem() {
        try (TierManager m = manager(8, 16, CopyFaults.NONE)) {
            KvHarness a = new KvHarness(m, 8, Integer.MAX_VALUE);
            a.append(12);
            a.sequence.endPrefill();
            a.append(1);
            long v = a.sequence.residencyVersion(0);
            long mv = a.sequence.maskVersion(0);
            assertEquals(0, a.sequence.maskedTokens(0));
            a.policy.move(0, 6, Level.EVICT_CODE); // drop mode: masked, its block keeps three live tokens
            a.policy.move(0, 1, Level.EVICT_CODE);
            a.sequence.step();
            assertEquals(2, a.sequence.residencyVersion(0) - v, "two tokens masked, nothing else");
            assertEquals(2, a.sequence.maskVersion(0) - mv, "... both of them masks");
            assertEquals(2, a.sequence.maskedTokens(0));
            assertEquals(6, a.sequence.maskedToken(0, 0), "in the order masked");
            assertEquals(1, a.sequence.maskedToken(0, 1));
            v = a.sequence.residencyVersion(0);
            mv = a.sequence.maskVersion(0);
            a.setBlock(0, 2, Level.EVICT_CODE); // the whole block: masked and freed
            a.append(1);
            a.sequence.step();
            assertEquals(Tier.NONE, a.sequence.tier(0, 2));
            assertEquals(6, a.sequence.maskedTokens(0));
            assertTrue(a.sequence.residencyVersion(0) - v > a.sequence.maskVersion(0) - mv, "a freed block is no mask");
            IndexOutOfBoundsException e = assertThrows(IndexOutOfBoundsException.class, () -> a.sequence.maskedToken(0, 6));
            assertTrue(e.getMessage().contains("[0, 6)"), e.getMessage());
            a.verify();
        }
    }

    /**
     * An append over several blocks (a prefill chunk) keeps them all on the device until the next append: in an arena larger
     * than the budget the placement makes room for them, so that the sequence still holds at most its budget; appends within a
     * block move nothing more than before.
     */
    @Test
    void anAppendOverSeveralBlocks_keepsToTheDeviceBudget_inALargerArena() {
        try (TierManager m = manager(12, 64, CopyFaults.NONE)) {
            KvHarness h = new KvHarness(m, 3, Integer.MAX_VALUE);
            h.append(4);
            h.append(4);
            assertEquals(0, m.stats().d2hBlocks(), "two blocks in a budget of three");
            h.append(8); // block 1 placed, blocks 2 and 3 opened: four blocks, one of them goes to the host
            m.awaitCopies();
            assertEquals(3, m.deviceArena().used(), "the budget's 3 device slots");
            assertEquals(1, m.stats().d2hBlocks());
            assertTrue(m.stats().deviceBlocksPeak() <= 3, "device peak " + m.stats().deviceBlocksPeak());
            assertEquals(Tier.DEVICE, h.sequence.tier(0, 2));
            assertEquals(Tier.DEVICE, h.sequence.tier(0, 3));
            h.append(12); // blocks 4 .. 6 opened: all three in the budget, blocks 0 .. 3 on the host
            m.awaitCopies();
            assertArrayEquals(new int[] {4, 5, 6}, deviceBlocks(h.sequence));
            assertTrue(m.stats().deviceBlocksPeak() <= 3, "device peak " + m.stats().deviceBlocksPeak());
            h.verify();
        }
    }

    /** An append whose blocks alone exceed the budget (a whole prompt in one call) sheds nothing: it could not fit anyway. */
    @Test
    void anAppendLargerThanTheBudget_shedsNothing_andEndPrefillBringsItBack() {
        try (TierManager m = manager(12, 64, CopyFaults.NONE)) {
            KvHarness h = new KvHarness(m, 3, Integer.MAX_VALUE);
            h.append(4);
            h.append(16); // block 0 placed, blocks 1 .. 4 opened: four unplaced blocks in a budget of three
            m.awaitCopies();
            assertEquals(0, m.stats().d2hBlocks(), "nothing shed for blocks that cannot fit");
            assertEquals(5, m.deviceArena().used());
            assertFalse(h.sequence.withinDeviceBudget());
            h.sequence.endPrefill();
            m.awaitCopies();
            assertTrue(h.sequence.withinDeviceBudget(), "within the budget once the prompt is placed");
            h.verify();
        }
    }

    /** A sequence that reuses a closed one's id never reads a version the other read: a cache keyed by id stays safe. */
    @Test
    void residencyVersion_neverRepeats_acrossSequencesOfOneManager() {
        try (TierManager m = manager(8, 16, CopyFaults.NONE)) {
            KvHarness a = new KvHarness(m, 2, Integer.MAX_VALUE);
            a.append(16);
            a.sequence.endPrefill();
            a.setBlock(0, 1, Level.EVICT_CODE); // two blocks freed: 8 tokens masked, more than the changes to come
            a.setBlock(0, 2, Level.EVICT_CODE);
            a.append(1);
            a.sequence.step();
            assertTrue(a.sequence.masked(0, 4) && a.sequence.masked(0, 11));
            long last = a.sequence.residencyVersion(0);
            int id = a.sequence.id();
            a.sequence.close();
            KvHarness b = new KvHarness(m, 2, Integer.MAX_VALUE);
            assertEquals(id, b.sequence.id(), "the id is reused");
            b.append(1);
            assertTrue(b.sequence.residencyVersion(0) > last, b.sequence.residencyVersion(0) + " after " + last);
            IndexOutOfBoundsException e = assertThrows(IndexOutOfBoundsException.class, () -> b.sequence.residencyVersion(1));
            assertTrue(e.getMessage().contains("1"), e.getMessage());
        }
    }

    @Test
    void appendIntoAFullArena_movesWrittenBlocksOfAnotherSequenceToTheHost() {
        try (TierManager m = manager(6, 8, CopyFaults.NONE)) {
            KvHarness a = new KvHarness(m, 6, Integer.MAX_VALUE);
            a.append(16);
            a.sequence.endPrefill();
            KvHarness b = new KvHarness(m, 6, Integer.MAX_VALUE);
            b.append(12);
            // b needed 3 slots, 2 were free: a's least valuable placed block (0, the oldest of equals) made room
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
            // room for one placed block: the first (an attention sink, in a real prompt) stays with the tail
            assertArrayEquals(new int[] {0, 5}, deviceBlocks(h.sequence));
            h.verify();
        }
    }

    @Test
    void writesGoOnlyToBlocksSettledOnTheDevice() {
        try (TierManager m = manager(8, 8, CopyFaults.NONE)) {
            KvHarness h = new KvHarness(m, 8, Integer.MAX_VALUE);
            h.append(8);
            h.sequence.endPrefill();
            IllegalStateException placed = assertThrows(IllegalStateException.class, () -> h.sequence.keyAddress(0, 1));
            assertTrue(placed.getMessage().contains("written and placed"), placed.getMessage());
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

    @Test
    void anotherThread_isRefused_namingBothThreads() throws Exception {
        try (TierManager m = manager(8, 8, CopyFaults.NONE)) {
            KvHarness h = new KvHarness(m, 8, Integer.MAX_VALUE);
            h.append(4);
            java.util.concurrent.atomic.AtomicReference<Throwable> seen = new java.util.concurrent.atomic.AtomicReference<>();
            Thread other = new Thread(() -> {
                try {
                    h.sequence.append(1);
                } catch (Throwable t) {
                    seen.set(t);
                }
            }, "intruder");
            other.start();
            other.join();
            assertTrue(seen.get() instanceof IllegalStateException, String.valueOf(seen.get()));
            String message = seen.get().getMessage();
            assertTrue(message.contains("'" + Thread.currentThread().getName() + "'") && message.contains("'intruder'"), message);
            assertEquals(4, h.sequence.length(), "the refused call changed nothing");
            h.verify();
            m.checkInvariants();
        }
    }

    @Test
    void deadCopyThread_failsEveryLaterCallWithItsCause_andCloseFreesEverything() {
        RuntimeException death = new RuntimeException("injected: the copy thread dies");
        CopyFaults dies = new CopyFaults() {
            @Override
            public boolean fail(CopyDirection direction, int srcSlot, int dstSlot, int slots) {
                throw death;
            }
        };
        TierManager m = manager(8, 8, dies);
        KvHarness h = new KvHarness(m, 2, Integer.MAX_VALUE);
        h.append(16);
        h.sequence.endPrefill(); // blocks 1 and 2 go to the host: the first copy kills the copy thread
        IllegalStateException first = assertThrows(IllegalStateException.class, m::awaitCopies);
        assertSame(death, rootCause(first));
        for (Runnable call : new Runnable[] {() -> h.sequence.step(), () -> h.sequence.append(1), m::checkInvariants}) {
            IllegalStateException e = assertThrows(IllegalStateException.class, call::run);
            assertSame(death, rootCause(e), e.getMessage());
        }
        m.close(); // frees both arenas without a second error
        m.close();
        assertEquals(0, m.openSequences());
    }

    private static Throwable rootCause(Throwable t) {
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        return t;
    }

    /**
     * A copy thread whose copy throws (not a failed copy: a bug in it) posts no completion for that run: every later call
     * fails with its error instead of waiting 60 s for it, and close() neither hangs nor leaks the arenas.
     */
    @Test
    void aCopyThreadThatThrows_failsEveryLaterCall_andCloseFreesTheArenas() {
        AtomicLong copies = new AtomicLong();
        CopyFaults throwing = new CopyFaults() {
            @Override
            public boolean fail(CopyDirection direction, int srcSlot, int dstSlot, int slots) {
                if (copies.incrementAndGet() == 2) {
                    throw new IllegalStateException("injected: the copy thread broke");
                }
                return false;
            }
        };
        long start = System.nanoTime();
        TierManager m = manager(4, 64, throwing);
        try {
            KvHarness h = new KvHarness(m, 2, Integer.MAX_VALUE);
            h.append(4);
            h.sequence.endPrefill();
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> {
                for (int t = 0; t < 200; t++) { // every block past the budget is demoted: the second copy throws
                    h.append(1);
                    h.sequence.step();
                    m.awaitCopies();
                }
            });
            assertTrue(e.getMessage().contains("injected: the copy thread broke"), e.getMessage());
            IllegalStateException again = assertThrows(IllegalStateException.class, () -> h.append(1));
            assertTrue(again.getMessage().contains("injected"), "a later call names the first failure: " + again.getMessage());
        } finally {
            m.close();
        }
        assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(30), "nothing waited for the lost completion");
    }
}

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
import java.util.SplittableRandom;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The behaviour every backend must show, run on the CPU ({@link CpuTieringTest}) and, tagged {@code gpu}, on
 * CUDA ({@link CudaTieringTest}): data survives any sequence of moves, failed copies lose nothing, slow copies
 * racing appends and reads never show torn data, and closing frees everything.
 */
abstract class TieringContract {
    /** Two layers, two KV heads of 4 floats, blocks of 4 tokens: 256-byte slots. */
    static final KvLayout LAYOUT = new KvLayout(2, 2, 4, DType.F32, 4);

    private MemoryLedger.Snapshot ledger;

    abstract Backend backend();

    TierManager manager(int deviceBlocks, int hostBlocks, CopyFaults faults) {
        return TierManager.create(TierConfig.builder(LAYOUT).backend(backend()).deviceCapacityBlocks(deviceBlocks)
                .hostCapacityBlocks(hostBlocks).faults(faults).build());
    }

    @BeforeEach
    void snapshotLedger() {
        ledger = MemoryLedger.snapshot();
    }

    @AfterEach
    void nothingLeaked() {
        ledger.assertNoLeaks();
    }

    /** Fails about one copy in {@code n}, decided by a counter so the test is repeatable in distribution. */
    static CopyFaults failOneIn(int n, AtomicInteger failures) {
        return new CopyFaults() {
            private final AtomicInteger copies = new AtomicInteger();

            @Override
            public boolean fail(CopyDirection direction, int srcSlot, int dstSlot, int slots) {
                int c = copies.incrementAndGet();
                boolean fail = (c * 0x9E3779B1 >>> 16) % n == 0;
                if (fail) {
                    failures.incrementAndGet();
                }
                return fail;
            }
        };
    }

    @Test
    void randomMoves_keepEveryByteOfEveryLiveBlock_andAllInvariants() {
        AtomicInteger failures = new AtomicInteger();
        try (TierManager m = manager(40, 100, failOneIn(20, failures))) {
            KvHarness a = new KvHarness(m, 14, Integer.MAX_VALUE);
            KvHarness b = new KvHarness(m, 10, 12);
            a.append(9);
            b.append(6);
            a.sequence.endPrefill();
            b.sequence.endPrefill();
            SplittableRandom random = new SplittableRandom(42);
            for (int op = 0; op < 400; op++) {
                KvHarness h = random.nextBoolean() ? a : b;
                randomMove(h, random, m);
                h.sequence.step();
                assertTrue(h.sequence.committedDeviceBlocks() <= h.sequence.deviceBudgetBlocks(),
                        "device budget after step " + op + ": " + h.sequence);
                assertTrue(h.sequence.committedHostBlocks() <= h.sequence.hostBudgetBlocks(), "host budget after step " + op);
                a.verify();
                b.verify();
                m.checkInvariants();
            }
            m.awaitCopies();
            TierStats stats = m.stats();
            assertTrue(stats.d2hBlocks() > 50 && stats.h2dBlocks() > 10, stats.summary());
            assertTrue(stats.droppedBlocks() > 0, "the small host budget of b must have dropped blocks: " + stats.summary());
            assertTrue(stats.evictedBlocks() > 0, stats.summary());
            assertEquals(failures.get(), stats.failedCopies(), stats.summary());
            assertTrue(stats.failedCopies() > 0, stats.summary());
        }
    }

    static void randomMove(KvHarness h, SplittableRandom random, TierManager m) {
        int blocks = h.sequence.blocks();
        int layer = random.nextInt(LAYOUT.layers());
        int block = random.nextInt(blocks);
        int choice = random.nextInt(100);
        if (choice < 30) {
            h.append(1 + random.nextInt(5));
        } else if (choice < 45) {
            h.setBlock(layer, block, random.nextBoolean() ? Level.LOW_CODE : Level.NORMAL_CODE);
        } else if (choice < 55) {
            h.setBlock(layer, block, Level.CACHE_CODE);
        } else if (choice < 62) {
            h.setBlock(layer, block, Level.EVICT_CODE);
        } else if (choice < 95) {
            if (h.sequence.tier(layer, block) != io.tierkv.core.Tier.NONE) {
                h.request(layer, block, 1 + random.nextInt(3));
            }
        } else {
            m.awaitCopies();
        }
    }

    @Test
    void blockBuffers_readWhatWasWritten_onEitherTier_andDeviceMemoryTheCpuCannotAddressIsRefused() {
        try (TierManager m = manager(32, 32, CopyFaults.NONE)) {
            KvHarness h = new KvHarness(m, 4, Integer.MAX_VALUE);
            h.append(12);
            // room for block 0 of each layer: blocks 1 and 2 go to the host
            h.sequence.endPrefill();
            m.awaitCopies();
            h.sequence.step();
            int rowBytes = (int) m.descriptor().rowBytes();
            org.agrona.concurrent.UnsafeBuffer buffer = new org.agrona.concurrent.UnsafeBuffer(0, 0);
            for (int l = 0; l < LAYOUT.layers(); l++) {
                LayerView view = h.sequence.view(l);
                assertTrue(view.hostCount() >= 1, "some block of layer " + l + " is on the host: " + view);
                for (int i = 0; i < view.hostCount(); i++) {
                    int block = view.hostBlock(i);
                    assertRows(h, l, block, 0, view.hostKeys(i, buffer), rowBytes);
                    assertRows(h, l, block, 1, view.hostValues(i, buffer), rowBytes);
                }
                for (int i = 0; i < view.deviceCount(); i++) {
                    if (m.deviceArena().slab().hostAccessible()) {
                        assertRows(h, l, view.deviceBlock(i), 0, view.deviceKeys(i, buffer), rowBytes);
                        assertRows(h, l, view.deviceBlock(i), 1, view.deviceValues(i, buffer), rowBytes);
                    } else {
                        int at = i;
                        IllegalStateException e = assertThrows(IllegalStateException.class, () -> view.deviceKeys(at, buffer));
                        assertTrue(e.getMessage().contains("CPU cannot address"), e.getMessage());
                    }
                }
            }
            h.sequence.close();
        }
    }

    /** The valid rows of {@code block}'s K ({@code half} 0) or V (1) in {@code buffer} are the harness's values. */
    private static void assertRows(KvHarness h, int layer, int block, int half, org.agrona.DirectBuffer buffer, int rowBytes) {
        int bs = LAYOUT.blockSize();
        assertEquals(bs * rowBytes, buffer.capacity(), "a buffer spans one half of a slot");
        for (int r = 0; r < bs && block * bs + r < h.sequence.length(); r++) {
            for (int i = 0; i < rowBytes; i++) {
                assertEquals(KvHarness.value(h.sequence.id(), layer, block * bs + r, half, i), buffer.getByte(r * rowBytes + i),
                        "layer " + layer + " block " + block + " row " + r + " byte " + i + (half == 0 ? " of K" : " of V"));
            }
        }
    }

    @Test
    void failedCopies_leaveBlocksReadableAndIntact_inTheirSourceTier() {
        AtomicInteger failures = new AtomicInteger();
        CopyFaults always = new CopyFaults() {
            @Override
            public boolean fail(CopyDirection direction, int srcSlot, int dstSlot, int slots) {
                failures.incrementAndGet();
                return true;
            }
        };
        try (TierManager m = manager(32, 32, always)) {
            KvHarness h = new KvHarness(m, 4, Integer.MAX_VALUE);
            h.append(20);
            // blocks 0..3 of both layers are placed; room for block 0 of each: blocks 1..3 go to the host
            h.sequence.endPrefill();
            m.awaitCopies();
            h.verify();
            for (int b = 1; b < 4; b++) {
                assertEquals(Tier.DEVICE, h.sequence.tier(0, b), "a failed demotion leaves block " + b + " on the device");
            }
            TierStats stats = m.stats();
            assertTrue(stats.failedCopies() >= 1 && stats.failedBlocks() == 6, stats.summary());
            assertEquals(0, stats.d2hBlocks());
            assertEquals(0, m.hostArena().used(), "failed copies' destination slots are freed");
            h.sequence.step();
            m.awaitCopies();
            h.verify();
            assertTrue(m.stats().failedBlocks() >= 12, "the next step retries the demotions: " + m.stats().summary());
            m.checkInvariants();
        }
    }

    @Test
    void failedPromotion_leavesBlockIntactOnTheHost() {
        AtomicInteger calls = new AtomicInteger();
        CopyFaults promotionsFail = new CopyFaults() {
            @Override
            public boolean fail(CopyDirection direction, int srcSlot, int dstSlot, int slots) {
                calls.incrementAndGet();
                return direction == CopyDirection.HOST_TO_DEVICE;
            }
        };
        try (TierManager m = manager(32, 32, promotionsFail)) {
            KvHarness h = new KvHarness(m, 4, Integer.MAX_VALUE);
            h.append(12);
            // room for block 0 of each layer: block 1 of both goes to the host
            h.sequence.endPrefill();
            m.awaitCopies();
            assertEquals(Tier.HOST, h.sequence.tier(1, 1));
            h.sequence.step();
            h.request(1, 1, 1);
            // block 1 of layer 1 is now worth more than the device's victim: promoted, and the promotion fails
            h.sequence.step();
            m.awaitCopies();
            assertEquals(Tier.HOST, h.sequence.tier(1, 1), "a failed promotion leaves the block on the host");
            h.verify();
            assertEquals(1, m.stats().failedBlocks());
            m.checkInvariants();
        }
    }

    @Test
    void appendsAndReadsRacingSlowCopies_neverSeeTornData() {
        CopyFaults slow = new CopyFaults() {
            @Override
            public long delayNanos(CopyDirection direction, int srcSlot, int dstSlot, int slots) {
                return ThreadLocalRandom.current().nextLong(200_000);
            }

            @Override
            public boolean fail(CopyDirection direction, int srcSlot, int dstSlot, int slots) {
                return ThreadLocalRandom.current().nextInt(50) == 0;
            }
        };
        long deadline = System.nanoTime() + 1_500_000_000L;
        int steps = 0;
        int sawInFlight = 0;
        try (TierManager m = manager(24, 200, slow)) {
            KvHarness a = new KvHarness(m, 10, Integer.MAX_VALUE);
            KvHarness b = new KvHarness(m, 8, Integer.MAX_VALUE);
            a.append(5);
            b.append(5);
            SplittableRandom random = new SplittableRandom(11);
            while (System.nanoTime() < deadline && steps < 5_000) {
                KvHarness h = random.nextBoolean() ? a : b;
                if (h.sequence.length() > 160) {
                    for (int bl = 0; bl < h.sequence.blocks() - 1; bl++) {
                        h.setBlock(random.nextInt(2), bl, Level.EVICT_CODE);
                    }
                }
                randomMove(h, random, m);
                h.sequence.step();
                steps++;
                if (m.stats().inFlightBlocks() > 0) {
                    sawInFlight++;
                }
                a.verify();
                b.verify();
            }
            m.checkInvariants();
        }
        assertTrue(steps > 50, "only " + steps + " steps ran");
        if (backend() == Backend.CPU) {
            // Delays are a CPU-engine hook; on CUDA the copies are simply asynchronous.
            assertTrue(sawInFlight > 10, "copies were in flight during only " + sawInFlight + " of " + steps + " steps");
        }
    }

    @Test
    void close_waitsForCopies_andFreesBothArenas() {
        CopyFaults slow = new CopyFaults() {
            @Override
            public long delayNanos(CopyDirection direction, int srcSlot, int dstSlot, int slots) {
                return 2_000_000;
            }
        };
        TierManager m = manager(16, 16, slow);
        KvHarness h = new KvHarness(m, 4, Integer.MAX_VALUE);
        h.append(30);
        // 14 blocks placed, room for 2: 12 copies to the host at 2 ms each
        h.sequence.endPrefill();
        if (backend() == Backend.CPU) {
            assertTrue(m.stats().inFlightBlocks() > 0, "2 ms per copy keeps them in flight");
        }
        m.close();
        m.close();
        assertEquals(0, m.stats().deviceBlocks());
        assertThrows(IllegalStateException.class, () -> h.sequence.step());
        assertThrows(IllegalStateException.class, () -> h.sequence.append(1));
        assertThrows(IllegalStateException.class, m::deviceArena);
        assertThrows(IllegalStateException.class, () -> m.open(new ScriptedPolicy(),
                io.tierkv.core.policy.PolicyContext.unbounded(2, 0), 4));
    }

    /**
     * A slab's ranged copies equal one {@code write}/{@code read} per range: ranges adjacent in the slab (copied as one
     * run) and apart, more bytes than a device slab's staging buffer holds, a range split across its refills; a bad range
     * among good ones writes nothing.
     */
    @Test
    void slabRanges_copyLikeOneCallPerRange_andABadRangeWritesNothing() {
        try (TierManager m = manager(6000, 8, CopyFaults.NONE)) { // a device slab of 1.5 MiB: past the 1 MiB staging buffer
            for (io.tierkv.tiering.arena.Slab slab : new io.tierkv.tiering.arena.Slab[] {m.deviceArena().slab(), m.hostArena().slab()}) {
                SplittableRandom r = new SplittableRandom(slab.bytes());
                int size = (int) slab.bytes();
                // {slab offset, length}: adjacent pairs, a gap, one range across the 1 MiB mark, the slab's last bytes
                int[][] ranges = slab.bytes() > 1 << 20
                        ? new int[][] {{0, 100}, {100, 28}, {512, 256}, {4096, 1 << 20}, {(4096 + (1 << 20)), 7}, {size - 300, 300}}
                        : new int[][] {{0, 100}, {100, 28}, {512, 256}, {size - 300, 300}};
                int n = ranges.length;
                long[] at = new long[n];
                int[] from = new int[n];
                int[] lengths = new int[n];
                int total = 0;
                for (int i = 0; i < n; i++) {
                    at[i] = ranges[i][0];
                    lengths[i] = ranges[i][1];
                    from[i] = total + 3 * i; // a few bytes apart in the array
                    total = from[i] + lengths[i];
                }
                byte[] src = new byte[total];
                r.nextBytes(src);
                slab.write(0, new byte[size], 0, size);
                slab.writeRanges(n, at, src, from, lengths);
                byte[] whole = new byte[size];
                slab.read(0, whole, 0, size);
                byte[] expected = new byte[size];
                for (int i = 0; i < n; i++) {
                    System.arraycopy(src, from[i], expected, ranges[i][0], lengths[i]);
                }
                assertArrayEquals(expected, whole, slab.kind() + ": the slab after writeRanges");
                byte[] back = new byte[total];
                slab.readRanges(n, at, back, from, lengths);
                for (int i = 0; i < n; i++) {
                    assertArrayEquals(java.util.Arrays.copyOfRange(src, from[i], from[i] + lengths[i]),
                            java.util.Arrays.copyOfRange(back, from[i], from[i] + lengths[i]), slab.kind() + ": readRanges range " + i);
                }
                long[] bad = at.clone();
                bad[n - 1] = size - 299; // one byte past the end
                byte[] other = new byte[total];
                IndexOutOfBoundsException e = assertThrows(IndexOutOfBoundsException.class,
                        () -> slab.writeRanges(n, bad, other, from, lengths));
                assertTrue(e.getMessage().contains("range " + (n - 1)), e.getMessage());
                slab.read(0, whole, 0, size);
                assertArrayEquals(expected, whole, slab.kind() + ": a refused writeRanges wrote nothing");
            }
        }
    }
}

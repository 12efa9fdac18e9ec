package io.tierkv.tiering.copy;

import static org.junit.jupiter.api.Assertions.*;

import io.tierkv.core.memory.MemoryLedger;
import io.tierkv.tiering.BlockDescriptor;
import io.tierkv.tiering.arena.SlotArena;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class CpuCopyEngineTest {
    private static final int SLOT = 256;

    private MemoryLedger.Snapshot ledger;
    private SlotArena device;
    private SlotArena host;
    private final List<int[]> done = new ArrayList<>();
    private final CopySink sink = (d, s, t, n, ok) -> done.add(new int[] {d.code(), s, t, n, ok ? 1 : 0});

    @BeforeEach
    void open() {
        ledger = MemoryLedger.snapshot();
        device = SlotArena.offHeap("device", SLOT, 64, BlockDescriptor.SLAB_ALIGNMENT);
        host = SlotArena.offHeap("host", SLOT, 128, BlockDescriptor.SLAB_ALIGNMENT);
    }

    @AfterEach
    void close() {
        device.close();
        host.close();
        ledger.assertNoLeaks();
    }

    private static void fill(SlotArena arena, int slot, int seed) {
        byte[] b = new byte[SLOT];
        for (int i = 0; i < SLOT; i++) {
            b[i] = (byte) (seed * 31 + i);
        }
        arena.slab().write((long) slot * SLOT, b, 0, SLOT);
    }

    private static byte[] read(SlotArena arena, int slot) {
        byte[] b = new byte[SLOT];
        arena.slab().read((long) slot * SLOT, b, 0, SLOT);
        return b;
    }

    /** Issue 14: after the copy thread died, calls went on and close() threw (the memory was freed). */
    @Test
    void deadCopyThread_failsEveryLaterCallWithTheOriginalCause_andCloseFreesWithoutASecondError() {
        RuntimeException death = new RuntimeException("injected: the copy thread dies");
        CopyFaults dies = new CopyFaults() {
            @Override
            public boolean fail(CopyDirection direction, int srcSlot, int dstSlot, int slots) {
                throw death;
            }
        };
        MemoryLedger.Snapshot beforeEngine = MemoryLedger.snapshot();
        CpuCopyEngine engine = new CpuCopyEngine(device, host, sink, dies, 8, 1024);
        engine.stage(CopyDirection.DEVICE_TO_HOST, 1, 2);
        engine.flush();
        IllegalStateException first = assertThrows(IllegalStateException.class, engine::drain);
        assertSame(death, first.getCause());
        assertSame(death, engine.failure());
        for (Runnable call : new Runnable[] {engine::flush, () -> engine.reapThrough(1), engine::awaitSome, engine::drain,
            () -> { engine.stage(CopyDirection.HOST_TO_DEVICE, 3, 4); engine.flush(); }}) {
            IllegalStateException e = assertThrows(IllegalStateException.class, call::run);
            assertSame(death, e.getCause(), e.getMessage());
        }
        engine.close(); // no second error
        engine.close();
        beforeEngine.assertNoLeaks();
        assertTrue(done.isEmpty(), "the lost copy was never reported as done");
    }

    @Test
    void reapThrough_reapsExactlyTheRunsBeforeTheMark_evenWhenLaterOnesHaveFinished() throws InterruptedException {
        // the copy thread copies runs in order: when it starts the fourth, the third has finished
        CountDownLatch fourthStarts = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        CopyFaults holdFourth = new CopyFaults() {
            @Override
            public long delayNanos(CopyDirection direction, int srcSlot, int dstSlot, int slots) {
                if (srcSlot == 6) {
                    fourthStarts.countDown();
                    try {
                        assertTrue(release.await(10, TimeUnit.SECONDS));
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
                return 0;
            }
        };
        try (CpuCopyEngine engine = new CpuCopyEngine(device, host, sink, holdFourth, 8, 1)) {
            for (int i = 0; i < 4; i++) {
                fill(device, i * 2, i);
                engine.stage(CopyDirection.DEVICE_TO_HOST, i * 2, 50 + i * 2);   // slots apart: four runs
            }
            engine.flush();
            assertEquals(4, engine.submittedRuns());
            assertEquals(0, engine.reapThrough(0));
            assertEquals(0, done.size(), "mark 0 reaps nothing");
            engine.reapThrough(2);
            assertEquals(2, done.size(), "the first two runs");
            assertTrue(fourthStarts.await(10, TimeUnit.SECONDS));
            engine.reapThrough(2);
            assertEquals(2, done.size(), "not the third, although it has finished");
            assertEquals(2, engine.inFlightCopies());
            assertEquals(0, done.get(0)[1]);
            assertEquals(2, done.get(1)[1]);
            engine.awaitSome();
            assertEquals(3, done.size(), "awaitSome lands the oldest run, and only it");
            assertEquals(4, done.get(2)[1]);
            assertArrayEquals(read(device, 4), read(host, 54));
            release.countDown();
            engine.drain();
            assertEquals(4, done.size());
        }
    }

    @Test
    void flush_coalescesConsecutiveSlots_intoOneCopy() {
        try (CpuCopyEngine engine = new CpuCopyEngine(device, host, sink, CopyFaults.NONE, 8, 1024)) {
            for (int i = 0; i < 8; i++) {
                fill(device, 10 + i, i);
            }
            for (int i = 7; i >= 0; i--) {
                engine.stage(CopyDirection.DEVICE_TO_HOST, 10 + i, 40 + i);
            }
            assertEquals(8, engine.stagedBlocks());
            assertEquals(1, engine.flush());
            engine.drain();
            assertEquals(1, done.size());
            assertArrayEquals(new int[] {0, 10, 40, 8, 1}, done.get(0));
            for (int i = 0; i < 8; i++) {
                assertArrayEquals(read(device, 10 + i), read(host, 40 + i));
            }
            CopyStats stats = engine.stats();
            assertEquals(1, stats.d2hCopies());
            assertEquals(8, stats.d2hBlocks());
            assertEquals(8L * SLOT, stats.d2hBytes());
            assertEquals(1, stats.copySizeHistogram()[3]);
        }
    }

    @Test
    void flush_splitsRuns_atGapsAndAtTheRunLimit() {
        try (CpuCopyEngine engine = new CpuCopyEngine(device, host, sink, CopyFaults.NONE, 8, 3)) {
            // sources 0..6 contiguous, destinations jump after 3: runs [0..2]->[0..2], [3]->[10], [4..6]->[11..13] (limit 3)
            int[] dst = {0, 1, 2, 10, 11, 12, 13};
            for (int i = 0; i < dst.length; i++) {
                engine.stage(CopyDirection.HOST_TO_DEVICE, i, dst[i]);
            }
            assertEquals(3, engine.flush());
            engine.drain();
            done.sort((x, y) -> Integer.compare(x[1], y[1]));
            assertArrayEquals(new int[] {1, 0, 0, 3, 1}, done.get(0));
            assertArrayEquals(new int[] {1, 3, 10, 3, 1}, done.get(1));
            assertArrayEquals(new int[] {1, 6, 13, 1, 1}, done.get(2));
        }
    }

    @Test
    void failedCopy_leavesSourceIntact_andIsReported() {
        CopyFaults failSlot5 = new CopyFaults() {
            @Override
            public boolean fail(CopyDirection direction, int srcSlot, int dstSlot, int slots) {
                return srcSlot == 5;
            }
        };
        try (CpuCopyEngine engine = new CpuCopyEngine(device, host, sink, failSlot5, 8, 1)) {
            fill(device, 5, 9);
            fill(device, 6, 10);
            byte[] before = read(device, 5);
            engine.stage(CopyDirection.DEVICE_TO_HOST, 5, 0);
            engine.stage(CopyDirection.DEVICE_TO_HOST, 6, 1);
            engine.drain();
            assertArrayEquals(before, read(device, 5));
            assertFalse(Arrays.equals(before, read(host, 0)), "the failed copy's destination is torn, not a copy");
            assertArrayEquals(read(device, 6), read(host, 1));
            assertEquals(2, done.size());
            assertEquals(0, done.get(0)[4]);
            assertEquals(1, done.get(1)[4]);
            assertEquals(1, engine.stats().failedCopies());
            assertEquals(1, engine.stats().d2hCopies());
        }
    }

    @Test
    void manyMoreCopiesThanMayBeInFlight_allComplete_inOrderPerDirection() {
        SplittableRandom random = new SplittableRandom(3);
        try (CpuCopyEngine engine = new CpuCopyEngine(device, host, sink, CopyFaults.NONE, 2, 1)) {
            for (int round = 0; round < 20; round++) {
                int[] perm = random.ints(0, 64).distinct().limit(40).toArray();
                for (int i = 0; i < perm.length; i++) {
                    fill(device, perm[i], round * 100 + i);
                    engine.stage(CopyDirection.DEVICE_TO_HOST, perm[i], 2 * i);
                }
                engine.flush();
                assertTrue(engine.inFlightCopies() <= 2);
                engine.drain();
                for (int i = 0; i < perm.length; i++) {
                    assertArrayEquals(read(device, perm[i]), read(host, 2 * i), "round " + round + " copy " + i);
                }
            }
            assertEquals(800, done.size());
            assertEquals(0, engine.inFlightCopies());
        }
    }

    @Test
    void stage_outsideTheArenas_isRejectedOnTheOwnerThread() {
        try (CpuCopyEngine engine = new CpuCopyEngine(device, host, sink, CopyFaults.NONE, 8, 8)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> engine.stage(CopyDirection.DEVICE_TO_HOST, 64, 0));
            assertTrue(e.getMessage().contains("source slot 64"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> engine.stage(CopyDirection.HOST_TO_DEVICE, 100, 64));
        }
    }

    @Test
    void close_drainsStagedCopies_thenRefusesUse() {
        CpuCopyEngine engine = new CpuCopyEngine(device, host, sink, CopyFaults.NONE, 8, 8);
        fill(device, 1, 1);
        engine.stage(CopyDirection.DEVICE_TO_HOST, 1, 2);
        engine.close();
        engine.close();
        assertEquals(1, done.size());
        assertArrayEquals(read(device, 1), read(host, 2));
        assertThrows(IllegalStateException.class, () -> engine.stage(CopyDirection.DEVICE_TO_HOST, 1, 2));
        assertThrows(IllegalStateException.class, engine::flush);
        assertEquals(0, engine.inFlightCopies());
    }
}

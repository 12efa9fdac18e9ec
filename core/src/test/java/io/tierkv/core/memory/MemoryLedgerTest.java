package io.tierkv.core.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The ledger is process-wide, so every test starts from a snapshot and must leave it as it found it
 * ({@link #nothingLeft()} checks after each one).
 */
class MemoryLedgerTest {
    private MemoryLedger.Snapshot before;

    @BeforeEach
    void snapshot() {
        before = MemoryLedger.snapshot();
    }

    @AfterEach
    void nothingLeft() {
        before.assertNoLeaks();
    }

    @Test
    void balancedAllocations_passAssertNoLeaks() {
        MemoryLedger.Snapshot s = MemoryLedger.snapshot();
        MemoryLedger.allocated(MemoryKind.DEVICE, 4096);
        MemoryLedger.allocated(MemoryKind.PINNED, 100);
        assertEquals(before.bytes()[MemoryKind.DEVICE.ordinal()] + 4096, MemoryLedger.outstanding(MemoryKind.DEVICE));
        assertEquals(4096, s.leakedSince(MemoryKind.DEVICE));
        MemoryLedger.freed(MemoryKind.PINNED, 100);
        MemoryLedger.freed(MemoryKind.DEVICE, 4096);
        s.assertNoLeaks();
        assertEquals(0, s.leakedSince(MemoryKind.DEVICE));
    }

    @Test
    void outstandingBytes_failAssertNoLeaks_namingKindBytesAndAllocations() {
        MemoryLedger.Snapshot s = MemoryLedger.snapshot();
        MemoryLedger.allocated(MemoryKind.OFF_HEAP, 64);
        MemoryLedger.allocated(MemoryKind.OFF_HEAP, 36);
        IllegalStateException e = assertThrows(IllegalStateException.class, s::assertNoLeaks);
        assertEquals("native memory leaked: OFF_HEAP: 100 bytes in 2 allocations;", e.getMessage());
        MemoryLedger.freed(MemoryKind.OFF_HEAP, 100); // one free for both: bytes balance, one handle is left
        e = assertThrows(IllegalStateException.class, s::assertNoLeaks);
        assertEquals("native memory leaked: OFF_HEAP: 0 bytes in 1 allocations;", e.getMessage());
        MemoryLedger.allocated(MemoryKind.OFF_HEAP, 0);
        MemoryLedger.freed(MemoryKind.OFF_HEAP, 0);
        MemoryLedger.freed(MemoryKind.OFF_HEAP, 0);
        s.assertNoLeaks();
    }

    @Test
    void zeroByteAllocation_stillCountsAsAHandle() {
        MemoryLedger.Snapshot s = MemoryLedger.snapshot();
        MemoryLedger.allocated(MemoryKind.PINNED, 0);
        assertEquals(1, MemoryLedger.allocations(MemoryKind.PINNED) - s.allocations()[MemoryKind.PINNED.ordinal()]);
        assertThrows(IllegalStateException.class, s::assertNoLeaks);
        MemoryLedger.freed(MemoryKind.PINNED, 0);
    }

    @Test
    void peak_recordsTheHighWaterMark() {
        long base = MemoryLedger.outstanding(MemoryKind.DEVICE);
        MemoryLedger.allocated(MemoryKind.DEVICE, 1L << 40); // far above anything real in this JVM
        MemoryLedger.freed(MemoryKind.DEVICE, 1L << 40);
        assertTrue(MemoryLedger.peak(MemoryKind.DEVICE) >= base + (1L << 40));
        assertEquals(base, MemoryLedger.outstanding(MemoryKind.DEVICE));
    }

    @Test
    void negativeAllocation_isRejected() {
        assertEquals("bytes must be >= 0, was -1",
                assertThrows(IllegalArgumentException.class, () -> MemoryLedger.allocated(MemoryKind.DEVICE, -1)).getMessage());
    }

    @Test
    void negativeFree_isRejected_leavingTheLedgerAlone() {
        long bytes = MemoryLedger.outstanding(MemoryKind.DEVICE);
        long handles = MemoryLedger.allocations(MemoryKind.DEVICE);
        assertEquals("bytes must be >= 0, was -5",
                assertThrows(IllegalArgumentException.class, () -> MemoryLedger.freed(MemoryKind.DEVICE, -5)).getMessage());
        assertEquals(bytes, MemoryLedger.outstanding(MemoryKind.DEVICE));
        assertEquals(handles, MemoryLedger.allocations(MemoryKind.DEVICE));
    }

    @Test
    void freeingMoreThanAllocated_isAnError() {
        long out = MemoryLedger.outstanding(MemoryKind.PINNED);
        long handles = MemoryLedger.allocations(MemoryKind.PINNED);
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> MemoryLedger.freed(MemoryKind.PINNED, out + 10));
        assertEquals("more PINNED memory freed than allocated (a double free?): " + (out + 10) + " bytes freed, " + out
                + " outstanding in " + handles + " allocations; the ledger is unchanged", e.getMessage());
        assertEquals(out, MemoryLedger.outstanding(MemoryKind.PINNED));
        assertEquals(handles, MemoryLedger.allocations(MemoryKind.PINNED));
    }

    /** Issue 14: the ledger subtracted before its check, so a double free left it negative. */
    @Test
    void doubleFree_isRejectedBeforeChangingTheLedger() {
        // core allocates no device memory, so in this JVM the second free has nothing left to free
        assertEquals(0, MemoryLedger.allocations(MemoryKind.DEVICE));
        MemoryLedger.allocated(MemoryKind.DEVICE, 64);
        MemoryLedger.freed(MemoryKind.DEVICE, 64);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> MemoryLedger.freed(MemoryKind.DEVICE, 64));
        assertTrue(e.getMessage().contains("double free"), e.getMessage());
        assertEquals(0, MemoryLedger.outstanding(MemoryKind.DEVICE));
        assertEquals(0, MemoryLedger.allocations(MemoryKind.DEVICE));
    }

    @Test
    void freeOfMoreBytesThanOutstanding_changesNeitherBytesNorAllocations() {
        long base = MemoryLedger.outstanding(MemoryKind.DEVICE);
        long handles = MemoryLedger.allocations(MemoryKind.DEVICE);
        MemoryLedger.allocated(MemoryKind.DEVICE, 100);
        assertThrows(IllegalStateException.class, () -> MemoryLedger.freed(MemoryKind.DEVICE, base + 101));
        assertEquals(base + 100, MemoryLedger.outstanding(MemoryKind.DEVICE));
        assertEquals(handles + 1, MemoryLedger.allocations(MemoryKind.DEVICE));
        MemoryLedger.freed(MemoryKind.DEVICE, 100);
    }
}

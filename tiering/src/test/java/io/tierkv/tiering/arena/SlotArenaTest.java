package io.tierkv.tiering.arena;

import static org.junit.jupiter.api.Assertions.*;

import io.tierkv.core.memory.MemoryKind;
import io.tierkv.core.memory.MemoryLedger;
import io.tierkv.tiering.BlockDescriptor;
import java.util.BitSet;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class SlotArenaTest {

    private static SlotArena arena(int slots) {
        return SlotArena.offHeap("test", 64, slots, BlockDescriptor.SLAB_ALIGNMENT);
    }

    @Test
    void allocate_freshArena_handsOutConsecutiveSlots() {
        try (SlotArena a = arena(4)) {
            // free: 0 -> 1 -> 2 -> 3
            assertArrayEquals(new int[] {0, 1, 2, 3}, a.freeList());
            assertEquals(0, a.allocate());
            assertEquals(1, a.allocate());
            // free: 2 -> 3
            assertArrayEquals(new int[] {2, 3}, a.freeList());
            assertEquals(2, a.used());
            a.checkInvariants();
        }
    }

    @Test
    void free_returnsSlotToHead_lastFreedIsReusedFirst() {
        try (SlotArena a = arena(4)) {
            for (int i = 0; i < 4; i++) {
                a.allocate();
            }
            a.free(2);
            a.free(0);
            // free: 0 -> 2
            assertArrayEquals(new int[] {0, 2}, a.freeList());
            assertEquals(0, a.allocate());
            assertEquals(2, a.allocate());
            assertEquals(SlotArena.NO_SLOT, a.allocate());
            a.checkInvariants();
        }
    }

    @Test
    void allocateNear_takesPreferredSlotFromMiddleOfList() {
        try (SlotArena a = arena(6)) {
            // free: 0 1 2 3 4 5; take 3 out of the middle
            assertEquals(3, a.allocateNear(3));
            assertArrayEquals(new int[] {0, 1, 2, 4, 5}, a.freeList());
            // 3 is taken: falls back to the head
            assertEquals(0, a.allocateNear(3));
            assertEquals(4, a.allocateNear(4));
            assertEquals(5, a.allocateNear(5));
            // tail taken: free 1 -> 2
            assertArrayEquals(new int[] {1, 2}, a.freeList());
            assertEquals(1, a.allocateNear(-1));
            assertEquals(2, a.allocateNear(6));
            a.checkInvariants();
        }
    }

    @Test
    void allocate_whenFull_answersNoSlot() {
        try (SlotArena a = arena(1)) {
            assertEquals(0, a.allocate());
            assertEquals(SlotArena.NO_SLOT, a.allocate());
            assertEquals(SlotArena.NO_SLOT, a.allocateNear(0));
            assertFalse(a.allocateExactly(0));
        }
    }

    @Test
    void free_twice_throwsDoubleFree() {
        try (SlotArena a = arena(2)) {
            int s = a.allocate();
            a.free(s);
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> a.free(s));
            assertTrue(e.getMessage().contains("double free of slot 0"), e.getMessage());
            a.checkInvariants();
        }
    }

    @Test
    void free_outOfRange_namesSlotAndRange() {
        try (SlotArena a = arena(2)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> a.free(2));
            assertTrue(e.getMessage().contains("slot 2") && e.getMessage().contains("[0, 2)"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> a.address(-1));
        }
    }

    @Test
    void anyUse_afterClose_throws_andCloseIsIdempotent() {
        MemoryLedger.Snapshot before = MemoryLedger.snapshot();
        SlotArena a = arena(3);
        assertTrue(MemoryLedger.outstanding(MemoryKind.OFF_HEAP) > 0);
        a.close();
        a.close();
        before.assertNoLeaks();
        assertThrows(IllegalStateException.class, a::allocate);
        assertThrows(IllegalStateException.class, () -> a.free(0));
        assertThrows(IllegalStateException.class, () -> a.address(0));
        assertThrows(IllegalStateException.class, a::baseAddress);
        assertThrows(IllegalStateException.class, () -> a.slab().read(0, new byte[1], 0, 1));
    }

    @Test
    void create_withBadSizes_namesTheParameter() {
        IllegalArgumentException zero = assertThrows(IllegalArgumentException.class, () -> SlotArena.offHeap("device", 64, 0, 4096));
        assertTrue(zero.getMessage().contains("capacity must be > 0"), zero.getMessage());
        assertThrows(IllegalArgumentException.class, () -> SlotArena.offHeap("device", 64, -3, 4096));
        assertThrows(IllegalArgumentException.class, () -> SlotArena.offHeap("device", 0, 4, 4096));
        MemoryLedger.Snapshot before = MemoryLedger.snapshot();
        IllegalArgumentException ragged = assertThrows(IllegalArgumentException.class,
                () -> new SlotArena("host", new OffHeapSlab(1000, 64), 64));
        assertTrue(ragged.getMessage().contains("not a whole number of 64-byte slots"), ragged.getMessage());
        before.assertNoLeaks();
        assertThrows(IllegalArgumentException.class, () -> new OffHeapSlab(64, 3));
    }

    @Test
    void addresses_arePackedFromAnAlignedBase() {
        try (SlotArena a = arena(8)) {
            assertEquals(0, a.baseAddress() % BlockDescriptor.SLAB_ALIGNMENT);
            assertEquals(a.baseAddress() + 5 * 64, a.address(5));
            byte[] data = {1, 2, 3, 4};
            a.slab().write(a.address(7) - a.baseAddress() + 60, data, 0, 4);
            byte[] back = new byte[4];
            a.slab().read(7 * 64 + 60, back, 0, 4);
            assertArrayEquals(data, back);
            assertThrows(IndexOutOfBoundsException.class, () -> a.slab().read(8 * 64 - 2, back, 0, 4));
        }
    }

    @Test
    void randomAllocateAndFree_matchesOracle_andKeepsInvariants() {
        SplittableRandom random = new SplittableRandom(7);
        try (SlotArena a = arena(97)) {
            BitSet used = new BitSet();
            for (int op = 0; op < 5_000; op++) {
                int choice = random.nextInt(3);
                if (choice == 0) {
                    int s = a.allocate();
                    assertEquals(used.cardinality() == 97, s == SlotArena.NO_SLOT);
                    if (s != SlotArena.NO_SLOT) {
                        assertFalse(used.get(s));
                        used.set(s);
                    }
                } else if (choice == 1) {
                    int want = random.nextInt(97);
                    int s = a.allocateNear(want);
                    if (!used.get(want)) {
                        assertEquals(want, s);
                    }
                    if (s != SlotArena.NO_SLOT) {
                        assertFalse(used.get(s));
                        used.set(s);
                    }
                } else if (!used.isEmpty()) {
                    int s = used.nextSetBit(random.nextInt(97));
                    s = s < 0 ? used.nextSetBit(0) : s;
                    a.free(s);
                    used.clear(s);
                }
                assertEquals(used.cardinality(), a.used());
                a.checkInvariants();
            }
        }
    }
}

package io.tierkv.tiering;

import static org.junit.jupiter.api.Assertions.*;

import io.tierkv.core.DType;
import io.tierkv.core.KvLayout;
import io.tierkv.core.memory.MemoryLedger;
import io.tierkv.core.policy.PolicyContext;
import io.tierkv.cuda.driver.Backend;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** Misuse gets an exception that names the parameter and the bad value; running out is not misuse. */
class BadInputTest {
    private static final KvLayout TWO_LAYERS = new KvLayout(2, 1, 4, DType.F32, 4);

    private static void assertMessage(Class<? extends Throwable> type, Executable call, String... parts) {
        Throwable e = assertThrows(type, call);
        for (String part : parts) {
            assertTrue(e.getMessage().contains(part), "message '" + e.getMessage() + "' lacks '" + part + "'");
        }
    }

    private static TierManager manager(int device, int host) {
        return TierManager.create(TierConfig.cpu(TWO_LAYERS, device, host));
    }

    @Test
    void capacities_zeroOrNegative_areRejected() {
        assertMessage(IllegalArgumentException.class, () -> TierConfig.cpu(TWO_LAYERS, 0, 8), "deviceCapacityBlocks must be > 0, was 0");
        assertMessage(IllegalArgumentException.class, () -> TierConfig.cpu(TWO_LAYERS, -4, 8), "deviceCapacityBlocks", "-4");
        assertMessage(IllegalArgumentException.class, () -> TierConfig.cpu(TWO_LAYERS, 8, 0), "hostCapacityBlocks must be > 0");
        assertMessage(IllegalArgumentException.class,
                () -> TierConfig.builder(TWO_LAYERS).backend(Backend.CPU).deviceCapacityBlocks(8).maxInFlightCopies(0).build(),
                "maxInFlightCopies");
        assertMessage(IllegalArgumentException.class, () -> TierConfig.builder(TWO_LAYERS).backend(Backend.CPU).build(),
                "deviceCapacityBlocks");
        assertMessage(IllegalArgumentException.class, () -> new KvLayout(2, 1, 4, DType.F32, 0), "blockSize must be > 0");
    }

    @Test
    void capacityInBytes_thatIsNotAWholeNumberOfBlocks_isRejected() {
        long slot = TWO_LAYERS.blockBytes();
        assertMessage(IllegalArgumentException.class,
                () -> TierConfig.builder(TWO_LAYERS).backend(Backend.CPU).deviceCapacityBytes(10 * slot + 3).build(),
                "deviceCapacityBytes = " + (10 * slot + 3), "not a whole number of " + slot + "-byte blocks");
        assertMessage(IllegalArgumentException.class,
                () -> TierConfig.builder(TWO_LAYERS).backend(Backend.CPU).deviceCapacityBlocks(4).hostCapacityBytes(slot / 2).build(),
                "hostCapacityBytes");
        TierConfig four = new TierConfig(TWO_LAYERS, Backend.CPU, 10, 20);
        assertEquals(TierDefaults.MAX_IN_FLIGHT_COPIES, four.maxInFlightCopies());
        assertThrows(IllegalArgumentException.class, () -> new TierConfig(TWO_LAYERS, Backend.CPU, 10, -20));
        assertThrows(IllegalArgumentException.class, () -> new TierConfig(TWO_LAYERS, null, 10, 20));
        TierConfig ok = TierConfig.builder(TWO_LAYERS).backend(Backend.CPU).deviceCapacityBytes(10 * slot).build();
        assertEquals(10, ok.deviceCapacityBlocks());
        assertEquals(10 * TierDefaults.HOST_CAPACITY_FACTOR, ok.hostCapacityBlocks());
    }

    @Test
    void impossibleBudgets_andWrongContexts_areRejectedAtOpen() {
        MemoryLedger.Snapshot ledger = MemoryLedger.snapshot();
        try (TierManager m = manager(6, 8)) {
            assertMessage(IllegalArgumentException.class, () -> m.open(new ScriptedPolicy(), PolicyContext.unbounded(2, 0), 1),
                    "deviceBudgetBlocks = 1", "2 tail blocks");
            assertMessage(IllegalArgumentException.class, () -> m.open(new ScriptedPolicy(), PolicyContext.unbounded(2, 0), 7),
                    "deviceBudgetBlocks = 7", "6 slots");
            assertMessage(IllegalArgumentException.class, () -> m.open(new ScriptedPolicy(), PolicyContext.unbounded(2, 0), 4, -1),
                    "hostBudgetBlocks must be >= 0, was -1");
            assertMessage(IllegalArgumentException.class, () -> m.open(new ScriptedPolicy(), PolicyContext.unbounded(3, 0), 4),
                    "3 layers");
            ScriptedPolicy used = new ScriptedPolicy();
            Sequence s = m.open(used, PolicyContext.unbounded(2, 0), 2);
            s.close();
            assertThrows(IllegalStateException.class, () -> m.open(used, PolicyContext.unbounded(2, 0), 2), "a policy starts once");
            m.open(new ScriptedPolicy(), PolicyContext.unbounded(2, 0), 4);
            m.open(new ScriptedPolicy(), PolicyContext.unbounded(2, 0), 4);
            m.open(new ScriptedPolicy(), PolicyContext.unbounded(2, 0), 4);
            assertMessage(IllegalStateException.class, () -> m.open(new ScriptedPolicy(), PolicyContext.unbounded(2, 0), 4),
                    "cannot reserve 2 more tail blocks", "3 open sequences");
            assertEquals(3, m.openSequences());
        }
        ledger.assertNoLeaks();
    }

    @Test
    void badAppends_andUseAfterClose_throw() {
        try (TierManager m = manager(8, 8)) {
            Sequence s = m.open(new ScriptedPolicy(), PolicyContext.unbounded(2, 0), 4);
            assertMessage(IllegalArgumentException.class, () -> s.append(0), "append count must be > 0, was 0");
            assertMessage(IllegalArgumentException.class, () -> s.append(-2), "-2");
            s.append(3);
            assertThrows(IndexOutOfBoundsException.class, () -> s.view(2));
            assertThrows(IndexOutOfBoundsException.class, () -> s.level(-1, 0));
            s.close();
            s.close();
            assertMessage(IllegalStateException.class, () -> s.append(1), "sequence " + s.id() + " is closed");
            assertThrows(IllegalStateException.class, () -> s.view(0));
            assertThrows(IllegalStateException.class, s::step);
            assertThrows(IllegalStateException.class, () -> s.keyAddress(0, 0));
            assertEquals(0, m.deviceArena().used(), "closing a sequence frees its blocks");
        }
    }

    @Test
    void managerClose_isIdempotent_andRefusesLaterUse() {
        MemoryLedger.Snapshot ledger = MemoryLedger.snapshot();
        TierManager m = manager(8, 8);
        Sequence s = m.open(new ScriptedPolicy(), PolicyContext.unbounded(2, 0), 4);
        s.append(5);
        m.close();
        m.close();
        ledger.assertNoLeaks();
        assertMessage(IllegalStateException.class, () -> s.append(1), "closed");
        assertMessage(IllegalStateException.class, m::checkInvariants, "tier manager is closed");
        assertThrows(IllegalStateException.class, m::deviceBaseAddress);
        assertThrows(IllegalArgumentException.class, () -> TierManager.create(null));
    }
}

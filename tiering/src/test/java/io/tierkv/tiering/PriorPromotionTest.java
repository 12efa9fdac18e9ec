package io.tierkv.tiering;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.core.DType;
import io.tierkv.core.KvLayout;
import io.tierkv.core.memory.MemoryLedger;
import io.tierkv.core.policy.Policies;
import io.tierkv.core.policy.PolicyContext;
import io.tierkv.cuda.driver.Backend;
import io.tierkv.tiering.copy.CopyDirection;
import io.tierkv.tiering.copy.CopyFaults;
import org.junit.jupiter.api.Test;

/**
 * A prompt written token by token (the CUDA decoder's prefill) has its blocks admitted before its prior is known: the
 * prior then promotes the blocks the prompt attends to, each demoting a device block to make room. A promotion whose
 * slot is still being vacated by its victim's copy waits for that copy; it is not given up with the victim already gone
 * (which left the device tier nearly empty after the prior: 6 blocks of 28 on the bundled model).
 */
class PriorPromotionTest {
    /** Two layers, two KV heads of 4 floats, blocks of 4 tokens. */
    static final KvLayout LAYOUT = new KvLayout(2, 2, 4, DType.F32, 4);

    @Test
    void priorAfterTokenByTokenAdmission_promotesIntoTheSlotsItsVictimsFree_andKeepsTheDeviceFull() {
        promoteAfterAdmission(8);
    }

    /**
     * The CUDA decoder's arena, reused across prompts, is larger than a prompt's budget: a promotion then finds a free
     * slot at once, and would hold its victim's slot and its own while the victim's copy is in flight. The per-sequence
     * slot cap makes a promotion at the budget wait for its victim, so the device peak stays the budget (14 of 8 without
     * the cap). That the victims' demotions start first, so that a capped promotion is not given up instead, is what
     * {@code RuntimeParityTest} in bench holds (the prior's moves come demotions first either way).
     */
    @Test
    void inALargerArena_promotionsWaitForTheirVictims_andTheDevicePeakIsTheBudget() {
        promoteAfterAdmission(32);
    }

    private static void promoteAfterAdmission(int arenaBlocks) {
        MemoryLedger.Snapshot before = MemoryLedger.snapshot();
        int deviceBlocks = 8;          // 4 per layer, tails included
        int blocks = 12;               // per layer
        CopyFaults slow = new CopyFaults() {
            @Override
            public long delayNanos(CopyDirection direction, int srcSlot, int dstSlot, int slots) {
                return 500_000; // each copy 0.5 ms: the promotions are asked for while their victims' copies are in flight
            }
        };
        try (TierManager m = TierManager.create(TierConfig.builder(LAYOUT).backend(Backend.CPU)
                .deviceCapacityBlocks(arenaBlocks).hostCapacityBlocks(64).faults(slow).build());
             Sequence s = m.open(Policies.create("full"), PolicyContext.unbounded(LAYOUT.layers(), blocks * 4), deviceBlocks)) {
            for (int t = 0; t < blocks * 4; t++) {
                s.append(1);
            }
            m.awaitCopies();
            int admitted = s.deviceBlocks();
            assertEquals(deviceBlocks, admitted, "admission fills the device tier");
            // The prompt attends to blocks 5, 7 and 9 of each layer: all three on the host now.
            int[][] prior = new int[LAYOUT.layers()][blocks];
            for (int[] layer : prior) {
                layer[5] = 8;
                layer[7] = 8;
                layer[9] = 8;
            }
            s.prior(prior);
            s.endPrefill();
            m.awaitCopies();
            assertEquals(deviceBlocks, s.deviceBlocks(), "the device tier is as full as before the prior");
            assertTrue(m.stats().h2dBlocks() >= 6, "the prior promoted blocks: " + m.stats().summary());
            assertEquals(deviceBlocks, m.stats().deviceBlocksPeak(), "device slots held at most the budget, in-flight copies included");
            for (int l = 0; l < LAYOUT.layers(); l++) {
                LayerView v = s.view(l);
                java.util.Set<Integer> onDevice = new java.util.HashSet<>();
                for (int i = 0; i < v.deviceCount(); i++) {
                    onDevice.add(v.deviceBlock(i));
                }
                for (int b : new int[] {5, 7, 9}) {
                    assertTrue(onDevice.contains(b), "layer " + l + ": block " + b + " the prompt attends to is on the device; device "
                            + onDevice);
                }
            }
        }
        before.assertNoLeaks();
    }
}

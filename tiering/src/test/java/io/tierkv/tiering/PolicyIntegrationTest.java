package io.tierkv.tiering;

import static org.junit.jupiter.api.Assertions.*;

import io.tierkv.core.DType;
import io.tierkv.core.KvLayout;
import io.tierkv.core.Level;
import io.tierkv.core.memory.MemoryLedger;
import io.tierkv.core.policy.KvPolicy;
import io.tierkv.core.policy.Policies;
import io.tierkv.core.policy.PolicyContext;
import io.tierkv.cuda.driver.Backend;
import io.tierkv.tiering.arena.SlotArena;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Core's hierarchical policy, fed synthetic attention (sinks and every seventh token hot, the rest cold,
 * evicted keys masked), drives a sequence through a long generation under a device budget: data, budgets and
 * invariants hold at every step, and all four kinds of traffic happen.
 */
class PolicyIntegrationTest {
    private static final KvLayout LAYOUT = new KvLayout(2, 1, 4, DType.F32, 4);

    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"tier", "drop"})
    void hierarchicalPolicy_underADeviceBudget_keepsDataBudgetsAndInvariants(String mode) {
        MemoryLedger.Snapshot ledger = MemoryLedger.snapshot();
        KvPolicy policy = Policies.create("hierarchical:window=8,k=3,cache=6,normal=3,low=1,mode=" + mode);
        try (TierManager m = TierManager.create(TierConfig.builder(LAYOUT).backend(Backend.CPU).deviceCapacityBlocks(24)
                .hostCapacityBlocks(256).build())) {
            Sequence s = m.open(policy, PolicyContext.bounded(LAYOUT.layers(), 40, 48), 12);
            Writer w = new Writer(m, s);
            w.append(40);
            s.endPrefill();
            SplittableRandom random = new SplittableRandom(5);
            float[] probs = new float[512];
            for (int step = 0; step < 240; step++) {
                w.append(1);
                int keys = s.length();
                for (int l = 0; l < LAYOUT.layers(); l++) {
                    attention(s, l, keys, probs, random);
                    s.observe(l, keys - 1, probs, 0, 1, keys, keys);
                }
                s.step();
                assertTrue(s.withinDeviceBudget(), "step " + step + ": " + s);
                w.verify();
                m.checkInvariants();
                policy.checkInvariants();
            }
            TierStats stats = m.stats();
            assertTrue(stats.h2dBlocks() > 0, stats.summary());
            assertTrue(stats.d2hBlocks() > 0, stats.summary());
            if (mode.equals("drop")) {
                assertTrue(stats.evictedBlocks() > 0, stats.summary());
                assertTrue(s.keptTokens() < s.length(), "the policy evicted tokens");
            } else {
                assertEquals(0, stats.evictedBlocks() + stats.droppedBlocks(), "tier mode with host room loses nothing: " + stats.summary());
                assertEquals(s.length(), s.keptTokens());
            }
            assertEquals(240 + 1, stats.residency().size(), "end of prefill and every step");
        }
        ledger.assertNoLeaks();
    }

    /** Sinks (0..3) and every seventh token draw most of the attention; evicted keys get none. */
    private static void attention(Sequence s, int layer, int keys, float[] probs, SplittableRandom random) {
        float sum = 0;
        for (int t = 0; t < keys; t++) {
            float w = s.level(layer, t) == Level.EVICT_CODE ? 0 : (t < 4 ? 8 : t % 7 == 0 ? 6 : 1) * (0.5f + random.nextFloat());
            probs[t] = w;
            sum += w;
        }
        for (int t = 0; t < keys; t++) {
            probs[t] /= sum;
        }
    }

    /** Writes a known row per position and checks every live block through the views. */
    private static final class Writer {
        private final TierManager m;
        private final Sequence s;
        private final BlockDescriptor d;
        private final byte[] row;
        private final byte[] slot;

        Writer(TierManager m, Sequence s) {
            this.m = m;
            this.s = s;
            this.d = m.descriptor();
            this.row = new byte[(int) d.rowBytes()];
            this.slot = new byte[(int) d.slotBytes()];
        }

        void append(int count) {
            int first = s.length();
            s.append(count);
            for (int l = 0; l < LAYOUT.layers(); l++) {
                for (int p = first; p < first + count; p++) {
                    put(l, p, 0, s.keyAddress(l, p));
                    put(l, p, 1, s.valueAddress(l, p));
                }
            }
        }

        private void put(int l, int p, int half, long address) {
            for (int i = 0; i < row.length; i++) {
                row[i] = KvHarness.value(0, l, p, half, i);
            }
            SlotArena device = m.deviceArena();
            device.slab().write(address - device.baseAddress(), row, 0, row.length);
        }

        void verify() {
            for (int l = 0; l < LAYOUT.layers(); l++) {
                LayerView v = s.view(l);
                for (int i = 0; i < v.deviceCount(); i++) {
                    check(m.deviceArena(), v.deviceSlot(i), l, v.deviceBlock(i), v.rows(v.deviceBlock(i)));
                }
                for (int i = 0; i < v.hostCount(); i++) {
                    check(m.hostArena(), v.hostSlot(i), l, v.hostBlock(i), v.rows(v.hostBlock(i)));
                }
            }
        }

        private void check(SlotArena arena, int slotIndex, int l, int block, int rows) {
            arena.slab().read((long) slotIndex * d.slotBytes(), slot, 0, slot.length);
            for (int r = 0; r < rows; r++) {
                int p = block * LAYOUT.blockSize() + r;
                for (int i = 0; i < row.length; i++) {
                    assertEquals(KvHarness.value(0, l, p, 0, i), slot[(int) d.keyOffset(r) + i], "K of " + p);
                    assertEquals(KvHarness.value(0, l, p, 1, i), slot[(int) d.valueOffset(r) + i], "V of " + p);
                }
            }
        }
    }
}

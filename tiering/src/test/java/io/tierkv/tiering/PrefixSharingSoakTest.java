package io.tierkv.tiering;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.core.Level;
import io.tierkv.core.Tier;
import io.tierkv.core.memory.MemoryLedger;
import io.tierkv.core.policy.PolicyContext;
import io.tierkv.cuda.driver.Backend;
import io.tierkv.tiering.arena.SlotArena;
import io.tierkv.tiering.copy.CopyDirection;
import io.tierkv.tiering.copy.CopyFaults;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Seeded random operations on up to five sequences whose prompts start with one of three shared prefixes, in
 * arenas small enough that appends take other sequences' device blocks and demotions find the host full, with 5%
 * of copies failing: after every operation every live row of every open sequence is what its own tokens wrote
 * (read where its view says), and the manager's invariants hold (holders agree with reference counts, one
 * accounting owner each, the index publishes only live blocks). At the end nothing is held and nothing leaked.
 */
class PrefixSharingSoakTest {
    private static final int OPERATIONS = 1500;
    private static final int[][] FAMILIES = {
        {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12},
        {1, 2, 3, 4, 5, 6, 7, 8, 40, 41, 42, 43},
        {50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61},
    };

    /** One open sequence and the tokens it holds (its prompt, then what it generated). */
    private record Live(Sequence sequence, ScriptedPolicy policy, int[] tokens) {
    }

    /** Fails about 5% of copies, from its own seeded stream (the copy thread asks). */
    private static final class Failing implements CopyFaults {
        private final SplittableRandom random = new SplittableRandom(99);

        @Override
        public synchronized boolean fail(CopyDirection direction, int srcSlot, int dstSlot, int slots) {
            return random.nextInt(20) == 0;
        }
    }

    @Test
    void randomOperations_overSharedPrefixes_keepEveryRow_andFreeEverything() {
        MemoryLedger.Snapshot ledger = MemoryLedger.snapshot();
        SplittableRandom random = new SplittableRandom(20261130);
        int shared = 0;
        int tokensShared = 0;
        try (TierManager m = TierManager.create(TierConfig.builder(PrefixSharingTest.LAYOUT).backend(Backend.CPU)
                .deviceCapacityBlocks(26).hostCapacityBlocks(30).faults(new Failing()).build())) {
            List<Live> open = new ArrayList<>();
            for (int op = 0; op < OPERATIONS; op++) {
                int what = random.nextInt(10);
                if (open.isEmpty() || (what < 2 && open.size() < 5)) {
                    Live s = openOne(m, random);
                    tokensShared += s.sequence().sharedPrefixBlocks() * 4;
                    shared += s.sequence().sharedPrefixBlocks() > 0 ? 1 : 0;
                    open.add(s);
                } else if (what < 3) {
                    open.remove(random.nextInt(open.size())).sequence().close();
                } else {
                    Live s = open.get(random.nextInt(open.size()));
                    open.set(open.indexOf(s), generate(m, s, random));
                }
                m.checkInvariants();
                for (Live s : open) {
                    verify(m, s);
                }
            }
            assertTrue(shared > 50, "sequences that attached a shared prefix: " + shared);
            assertTrue(tokensShared > 400, "tokens attached: " + tokensShared);
            for (Live s : open) {
                s.sequence().close();
            }
            assertEquals(0, m.deviceArena().used() + m.hostArena().used());
            assertEquals(0, m.sharedPrefixBlocks());
            m.checkInvariants();
        }
        ledger.assertNoLeaks();
    }

    private static Live openOne(TierManager m, SplittableRandom random) {
        int[] family = FAMILIES[random.nextInt(FAMILIES.length)];
        int suffix = 1 + random.nextInt(6);
        int[] prompt = Arrays.copyOf(family, family.length + suffix);
        for (int i = family.length; i < prompt.length; i++) {
            prompt[i] = 100 + random.nextInt(3);
        }
        ScriptedPolicy policy = new ScriptedPolicy();
        Sequence s = m.open(policy, PolicyContext.unbounded(2, 0), 2 + 2 * random.nextInt(4));
        PrefixSharingTest.prefill(m, s, PrefixSharingTest.MODEL, prompt);
        return new Live(s, policy, prompt);
    }

    /** Random levels and requests, then one generated token written and a step. */
    private static Live generate(TierManager m, Live live, SplittableRandom random) {
        Sequence s = live.sequence();
        int blocks = s.blocks();
        for (int i = random.nextInt(3); i > 0; i--) {
            byte[] levels = {Level.CACHE_CODE, Level.NORMAL_CODE, Level.LOW_CODE, Level.LOW_CODE, Level.EVICT_CODE};
            live.policy().moveBlock(random.nextInt(2), random.nextInt(blocks), 4, levels[random.nextInt(levels.length)]);
        }
        for (int i = random.nextInt(4); i > 0; i--) {
            s.observeSelected(random.nextInt(2), new int[] {random.nextInt(s.length())}, 1);
        }
        int[] tokens = Arrays.copyOf(live.tokens(), live.tokens().length + 1);
        tokens[tokens.length - 1] = 200 + random.nextInt(50);
        int p = s.length();
        s.append(1);
        byte[] row = new byte[(int) m.descriptor().rowBytes()];
        SlotArena device = m.deviceArena();
        for (int l = 0; l < 2; l++) {
            for (int half = 0; half < 2; half++) {
                for (int i = 0; i < row.length; i++) {
                    row[i] = PrefixSharingTest.value(tokens, l, p, half, i);
                }
                long address = half == 0 ? s.keyAddress(l, p) : s.valueAddress(l, p);
                device.slab().write(address - device.baseAddress(), row, 0, row.length);
            }
        }
        s.step();
        return new Live(s, live.policy(), tokens);
    }

    private static void verify(TierManager m, Live live) {
        Sequence s = live.sequence();
        BlockDescriptor d = m.descriptor();
        byte[] slot = new byte[(int) d.slotBytes()];
        for (int l = 0; l < 2; l++) {
            LayerView v = s.view(l);
            for (int b = 0; b < s.blocks(); b++) {
                Tier tier = s.tier(l, b);
                if (tier == Tier.NONE) {
                    continue;
                }
                SlotArena arena = tier == Tier.DEVICE ? m.deviceArena() : m.hostArena();
                arena.slab().read((long) s.slot(l, b) * d.slotBytes(), slot, 0, slot.length);
                for (int r = 0; r < v.rows(b); r++) {
                    int p = b * 4 + r;
                    for (int half = 0; half < 2; half++) {
                        int offset = (int) (half == 0 ? d.keyOffset(r) : d.valueOffset(r));
                        for (int i = 0; i < d.rowBytes(); i++) {
                            if (slot[offset + i] != PrefixSharingTest.value(live.tokens(), l, p, half, i)) {
                                throw new AssertionError("sequence " + s.id() + " layer " + l + " position " + p + " byte " + i
                                        + " on the " + tier + " is wrong");
                            }
                        }
                    }
                }
            }
        }
    }
}

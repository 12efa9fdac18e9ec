package io.tierkv.tiering;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.core.DType;
import io.tierkv.core.KvLayout;
import io.tierkv.core.Level;
import io.tierkv.core.Tier;
import io.tierkv.core.memory.MemoryLedger;
import io.tierkv.core.policy.PolicyContext;
import io.tierkv.core.prefix.ModelFingerprint;
import io.tierkv.core.prefix.PrefixNamespace;
import io.tierkv.cuda.driver.Backend;
import io.tierkv.tiering.arena.SlotArena;
import java.util.Arrays;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Prefix sharing between the sequences of one manager: two layers, blocks of 4 tokens, 32-byte rows. The K and V
 * bytes of a position are a function of the prompt's tokens up to it (as a model's are), so a block holds the same
 * bytes in every sequence whose prompt starts the same, and any misplaced or lost block shows.
 */
class PrefixSharingTest {
    static final KvLayout LAYOUT = new KvLayout(2, 2, 4, DType.F32, 4);
    static final PrefixNamespace MODEL = PrefixNamespace.of(ModelFingerprint.ofDescription("prefix-test model a", DType.F32), LAYOUT);
    /** Prompts: the common prefix is tokens [0, 8), two full blocks. */
    static final int[] PROMPT_A = {11, 12, 13, 14, 15, 16, 17, 18, 21, 22};
    static final int[] PROMPT_B = {11, 12, 13, 14, 15, 16, 17, 18, 31, 32, 33};

    private MemoryLedger.Snapshot ledger;
    private final BlockDescriptor descriptor = new BlockDescriptor(LAYOUT);

    @BeforeEach
    void snapshotLedger() {
        ledger = MemoryLedger.snapshot();
    }

    @AfterEach
    void nothingLeaked() {
        ledger.assertNoLeaks();
    }

    static TierManager manager() {
        return TierManager.create(TierConfig.builder(LAYOUT).backend(Backend.CPU).deviceCapacityBlocks(24).hostCapacityBlocks(24).build());
    }

    static Sequence open(TierManager m, int deviceBudget) {
        return m.open(new ScriptedPolicy(), PolicyContext.unbounded(LAYOUT.layers(), 0), deviceBudget);
    }

    /** The byte {@code i} of the K or V row of {@code position} after {@code tokens[0, position]}. */
    static byte value(int[] tokens, int layer, int position, int half, int i) {
        int x = Arrays.hashCode(Arrays.copyOf(tokens, position + 1)) * 0x9E3779B1 ^ layer * 0x85EBCA6B ^ half * 0x27D4EB2F
                ^ i * 0x165667B1;
        x ^= x >>> 15;
        x *= 0x2C1B3C6D;
        return (byte) (x ^ (x >>> 13));
    }

    /** Declares {@code prompt}, appends and writes what was not attached, ends the prefill; returns the tokens attached. */
    static int prefill(TierManager m, Sequence s, PrefixNamespace ns, int[] prompt) {
        int shared = s.sharePrefix(ns, prompt, prompt.length);
        s.append(prompt.length - shared);
        byte[] row = new byte[(int) m.descriptor().rowBytes()];
        SlotArena device = m.deviceArena();
        for (int l = 0; l < LAYOUT.layers(); l++) {
            for (int p = shared; p < prompt.length; p++) {
                for (int half = 0; half < 2; half++) {
                    for (int i = 0; i < row.length; i++) {
                        row[i] = value(prompt, l, p, half, i);
                    }
                    long address = half == 0 ? s.keyAddress(l, p) : s.valueAddress(l, p);
                    device.slab().write(address - device.baseAddress(), row, 0, row.length);
                }
            }
        }
        s.endPrefill();
        return shared;
    }

    /** Every row of every block of {@code s}, read where its view says, is what {@code prompt} wrote. */
    void assertKvIntact(TierManager m, Sequence s, int[] prompt) {
        byte[] slot = new byte[(int) descriptor.slotBytes()];
        for (int l = 0; l < LAYOUT.layers(); l++) {
            LayerView v = s.view(l);
            assertEquals(s.blocks(), v.deviceCount() + v.hostCount(), "every block of layer " + l + " is live");
            for (int i = 0; i < v.deviceCount() + v.hostCount(); i++) {
                boolean onDevice = i < v.deviceCount();
                int block = onDevice ? v.deviceBlock(i) : v.hostBlock(i - v.deviceCount());
                int slotIndex = onDevice ? v.deviceSlot(i) : v.hostSlot(i - v.deviceCount());
                (onDevice ? m.deviceArena() : m.hostArena()).slab().read(slotIndex * descriptor.slotBytes(), slot, 0, slot.length);
                for (int r = 0; r < v.rows(block); r++) {
                    int p = block * LAYOUT.blockSize() + r;
                    for (int half = 0; half < 2; half++) {
                        int offset = (int) (half == 0 ? descriptor.keyOffset(r) : descriptor.valueOffset(r));
                        for (int b = 0; b < descriptor.rowBytes(); b++) {
                            assertEquals(value(prompt, l, p, half, b), slot[offset + b],
                                    "sequence " + s.id() + " layer " + l + " position " + p + (half == 0 ? " K" : " V") + " byte " + b);
                        }
                    }
                }
            }
        }
    }

    private static int slotsInUse(TierManager m) {
        return m.deviceArena().used() + m.hostArena().used();
    }

    @Test
    void commonTwoBlockPrefix_isHeldOnce_inTheSameSlots() {
        try (TierManager m = manager()) {
            Sequence a = open(m, 12);
            assertEquals(0, prefill(m, a, MODEL, PROMPT_A), "nothing to share yet");
            // A: blocks 0, 1 full and placed (published), block 2 its tail; 2 layers
            assertEquals(2, m.sharedPrefixBlocks());
            assertEquals(6, slotsInUse(m));
            Sequence b = open(m, 12);
            assertEquals(8, prefill(m, b, MODEL, PROMPT_B));
            assertEquals(2, b.sharedPrefixBlocks());
            // one copy of blocks 0, 1 and a tail each: 2 layers x (2 + 1 + 1), not 2 x (3 + 3)
            assertEquals(8, slotsInUse(m));
            assertEquals(8, m.stats().deviceBlocks() + m.stats().hostBlocks());
            for (int l = 0; l < 2; l++) {
                for (int blk = 0; blk < 2; blk++) {
                    assertEquals(a.tier(l, blk), b.tier(l, blk));
                    assertEquals(a.slot(l, blk), b.slot(l, blk), "layer " + l + " block " + blk);
                }
                assertNotEquals(a.slot(l, 2), b.slot(l, 2), "each tail is its own");
            }
            // the pool counts each block once, for one of its holders
            assertEquals(8, a.deviceBlocks() + a.hostBlocks() + b.deviceBlocks() + b.hostBlocks());
            assertKvIntact(m, a, PROMPT_A);
            assertKvIntact(m, b, PROMPT_B);
            m.checkInvariants();
        }
    }

    @ParameterizedTest(name = "close {0} first")
    @ValueSource(strings = {"a", "b"})
    void closingOneHolder_keepsTheOthersKv_andClosingBoth_freesEverything(String first) {
        try (TierManager m = manager()) {
            Sequence a = open(m, 12);
            prefill(m, a, MODEL, PROMPT_A);
            Sequence b = open(m, 12);
            prefill(m, b, MODEL, PROMPT_B);
            Sequence closed = first.equals("a") ? a : b;
            Sequence kept = closed == a ? b : a;
            closed.close();
            assertEquals(6, slotsInUse(m), "the shared blocks stay with the other holder");
            assertEquals(2, m.sharedPrefixBlocks(), "and stay findable");
            kept.step();
            m.awaitCopies();
            m.checkInvariants();
            assertKvIntact(m, kept, kept == a ? PROMPT_A : PROMPT_B);
            assertEquals(6, kept.deviceBlocks() + kept.hostBlocks(), "the survivor is charged for what it holds");
            kept.close();
            assertEquals(0, slotsInUse(m));
            assertEquals(0, m.sharedPrefixBlocks());
            assertEquals(0, m.stats().deviceBlocks() + m.stats().hostBlocks() + m.stats().inFlightBlocks());
            m.checkInvariants();
        }
    }

    @Test
    void otherModels_neverShare_andOtherLayouts_areRefused() {
        try (TierManager m = manager()) {
            Sequence a = open(m, 12);
            prefill(m, a, MODEL, PROMPT_A);
            PrefixNamespace other = PrefixNamespace.of(ModelFingerprint.ofDescription("prefix-test model b", DType.F32), LAYOUT);
            Sequence b = open(m, 12);
            assertEquals(0, prefill(m, b, other, PROMPT_B), "same tokens, another model");
            assertEquals(12, slotsInUse(m));
            assertEquals(4, m.sharedPrefixBlocks(), "each model's prefix is published under its own keys");
            for (int l = 0; l < 2; l++) {
                assertNotEquals(a.slot(l, 0), b.slot(l, 0));
            }
            Sequence c = open(m, 12);
            KvLayout bigger = new KvLayout(2, 2, 4, DType.F32, 8);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> c.sharePrefix(PrefixNamespace.of(ModelFingerprint.ofDescription("prefix-test model a", DType.F32), bigger),
                            PROMPT_B, PROMPT_B.length));
            assertTrue(e.getMessage().contains("blocks are shared only within one layout"), e.getMessage());
            assertEquals(0, c.length(), "nothing changed");
            Sequence d = open(m, 12);
            assertEquals(8, prefill(m, d, MODEL, PROMPT_B), "model a's prefix is still there");
            m.checkInvariants();
        }
    }

    @Test
    void promptOfWholeBlocks_leavesItsLastBlockToCompute() {
        try (TierManager m = manager()) {
            Sequence a = open(m, 12);
            int[] eight = Arrays.copyOf(PROMPT_A, 9);
            prefill(m, a, MODEL, eight); // blocks 0, 1 placed; block 2 (one token) is the tail
            Sequence b = open(m, 12);
            assertEquals(4, b.sharePrefix(MODEL, Arrays.copyOf(PROMPT_A, 8), 8), "block 1 holds the last token: computed");
            b.close();
            a.close();
            assertEquals(0, slotsInUse(m));
        }
    }

    /**
     * The rule: a shared block lives on the highest tier any holder places it on. A (device budget: its tails only)
     * places every full block on the host; B places the shared ones on the device, so they are promoted and B is
     * charged for them. When B closes, A's placement is followed again: back to the host, bytes intact.
     */
    @Test
    void sharedBlock_livesOnTheHighestTierAnyHolderWants() {
        try (TierManager m = manager()) {
            Sequence a = open(m, 2);
            prefill(m, a, MODEL, PROMPT_A);
            m.awaitCopies();
            assertEquals(Tier.HOST, a.tier(0, 0));
            assertEquals(2, a.deviceBlocks(), "A's tails");
            Sequence b = open(m, 12);
            prefill(m, b, MODEL, PROMPT_B);
            m.awaitCopies();
            for (int l = 0; l < 2; l++) {
                for (int blk = 0; blk < 2; blk++) {
                    assertEquals(Tier.DEVICE, a.tier(l, blk), "B wants layer " + l + " block " + blk + " on the device");
                }
            }
            assertEquals(2, a.deviceBlocks(), "A is not charged for blocks it places on the host");
            assertEquals(6, b.deviceBlocks(), "B is: its tails and the 4 shared blocks");
            assertTrue(a.withinDeviceBudget() && b.withinDeviceBudget());
            assertKvIntact(m, a, PROMPT_A);
            m.checkInvariants();
            b.close();
            a.step();
            m.awaitCopies();
            assertEquals(Tier.HOST, a.tier(1, 1));
            assertEquals(4, a.hostBlocks());
            assertKvIntact(m, a, PROMPT_A);
            m.checkInvariants();
        }
    }

    /** Popularity is counted per sequence: one holder's levels and frees do not touch the other's. */
    @Test
    void oneHoldersEviction_freesOnlyItsReference() {
        try (TierManager m = manager()) {
            ScriptedPolicy policyA = new ScriptedPolicy();
            Sequence a = m.open(policyA, PolicyContext.unbounded(LAYOUT.layers(), 0), 12);
            prefill(m, a, MODEL, PROMPT_A);
            Sequence b = open(m, 12);
            prefill(m, b, MODEL, PROMPT_B);
            policyA.moveBlock(0, 0, LAYOUT.blockSize(), Level.EVICT_CODE); // the scripted policy drops EVICT blocks
            a.step();
            m.awaitCopies();
            assertEquals(Tier.NONE, a.tier(0, 0));
            assertEquals(Level.EVICT_CODE, a.level(0, 0));
            assertEquals(Tier.DEVICE, b.tier(0, 0), "B still holds it");
            assertEquals(Level.NORMAL_CODE, b.level(0, 0));
            assertEquals(0, m.stats().evictedBlocks(), "no memory was freed");
            assertEquals(8, slotsInUse(m));
            assertKvIntact(m, b, PROMPT_B);
            assertEquals(2, m.sharedPrefixBlocks(), "block 0 stays findable: B holds every layer of it");
            m.checkInvariants();
            b.close();
            assertEquals(1, m.sharedPrefixBlocks(), "layer 0 of block 0 is gone with B: block 0 is not findable any more");
            assertEquals(Tier.NONE, a.tier(0, 0));
            assertEquals(5, slotsInUse(m), "A: layer 1 of block 0, blocks 1 and 2");
            a.close();
            assertEquals(0, slotsInUse(m));
        }
    }

    /** Blocks written after the sequence first masked a token hold keys and values of its own: they are not published. */
    @Test
    void blocksWrittenAfterAMask_areNotPublished() {
        try (TierManager m = manager()) {
            ScriptedPolicy policyA = new ScriptedPolicy();
            Sequence a = m.open(policyA, PolicyContext.unbounded(LAYOUT.layers(), 0), 12);
            int[] prompt = {11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23};
            assertEquals(0, a.sharePrefix(MODEL, prompt, prompt.length));
            a.append(4);
            a.append(4); // block 0 written, placed and published
            assertEquals(1, m.sharedPrefixBlocks());
            policyA.moveBlock(0, 0, LAYOUT.blockSize(), Level.EVICT_CODE); // dropped: its tokens masked in layer 0
            a.step();
            assertEquals(8, a.rowsBeforeFirstMask());
            a.append(5); // blocks 2 and 3 follow the mask; block 1 was written before it
            a.endPrefill();
            assertEquals(1, m.sharedPrefixBlocks(), "block 0 lost layer 0; block 1, written before the mask, is findable");
            Sequence b = open(m, 12);
            assertEquals(0, b.sharePrefix(MODEL, prompt, prompt.length), "block 0 is not held in every layer: nothing attaches");
            m.checkInvariants();
        }
    }
}

package io.tierkv.tiering;

import static org.junit.jupiter.api.Assertions.*;

import io.tierkv.core.KvLayout;
import io.tierkv.core.Level;
import io.tierkv.core.Tier;
import io.tierkv.core.policy.PolicyContext;
import io.tierkv.tiering.arena.SlotArena;

/**
 * Plays the model against one sequence: writes a known K and V row for every appended position (a function of
 * layer, position and byte index, so any torn or misplaced copy shows), and checks after each operation that
 * every live block is in exactly one list of its layer's view, in the tier the sequence reports, with every
 * valid row intact: the oracle is the function itself.
 */
final class KvHarness {
    final TierManager manager;
    final Sequence sequence;
    final ScriptedPolicy policy = new ScriptedPolicy();
    final KvLayout layout;
    private final BlockDescriptor descriptor;
    private final byte[] row;
    private final byte[] slot;
    private final byte[] expected;

    KvHarness(TierManager manager, int deviceBudget, int hostBudget) {
        this.manager = manager;
        this.layout = manager.config().layout();
        this.descriptor = manager.descriptor();
        this.sequence = manager.open(policy, PolicyContext.unbounded(layout.layers(), 0), deviceBudget, hostBudget);
        this.row = new byte[(int) descriptor.rowBytes()];
        this.slot = new byte[(int) descriptor.slotBytes()];
        this.expected = new byte[row.length];
    }

    /** The byte {@code i} of the K ({@code half = 0}) or V ({@code 1}) row of one position. */
    static byte value(int sequence, int layer, int position, int half, int i) {
        int x = sequence * 0x9E3779B1 ^ layer * 0x85EBCA6B ^ position * 0xC2B2AE35 ^ half * 0x27D4EB2F ^ i * 0x165667B1;
        x ^= x >>> 15;
        x *= 0x2C1B3C6D;
        return (byte) (x ^ (x >>> 13));
    }

    /** Appends {@code count} tokens and writes their K and V, as the model would. */
    void append(int count) {
        int first = sequence.length();
        sequence.append(count);
        for (int l = 0; l < layout.layers(); l++) {
            for (int p = first; p < first + count; p++) {
                write(l, p, 0, sequence.keyAddress(l, p));
                write(l, p, 1, sequence.valueAddress(l, p));
            }
        }
    }

    private void write(int layer, int position, int half, long address) {
        for (int i = 0; i < row.length; i++) {
            row[i] = value(sequence.id(), layer, position, half, i);
        }
        SlotArena device = manager.deviceArena();
        device.slab().write(address - device.baseAddress(), row, 0, row.length);
    }

    /** One query of {@code layer} requests {@code block} (its first token is in the top-k), {@code times} times. */
    void request(int layer, int block, int times) {
        int[] position = {block * layout.blockSize()};
        for (int i = 0; i < times; i++) {
            sequence.observeSelected(layer, position, 1);
        }
    }

    /** Moves every token of a block to {@code level} at the next step. */
    void setBlock(int layer, int block, byte level) {
        policy.moveBlock(layer, block, layout.blockSize(), level);
    }

    /** Checks views, tiers and every byte of every live block. */
    void verify() {
        int blockSize = layout.blockSize();
        for (int l = 0; l < layout.layers(); l++) {
            LayerView v = sequence.view(l);
            assertEquals(sequence.length(), v.length());
            int d = 0;
            int h = 0;
            for (int b = 0; b < sequence.blocks(); b++) {
                Tier tier = sequence.tier(l, b);
                if (tier == Tier.DEVICE) {
                    assertTrue(d < v.deviceCount() && v.deviceBlock(d) == b, "layer " + l + " block " + b + " missing from the device list");
                    checkBlock(manager.deviceArena(), v.deviceSlot(d), l, b, v.rows(b));
                    d++;
                } else if (tier == Tier.HOST) {
                    assertTrue(h < v.hostCount() && v.hostBlock(h) == b, "layer " + l + " block " + b + " missing from the host list");
                    checkBlock(manager.hostArena(), v.hostSlot(h), l, b, v.rows(b));
                    h++;
                } else {
                    for (int t = b * blockSize; t < Math.min(sequence.length(), (b + 1) * blockSize); t++) {
                        assertEquals(Level.EVICT_CODE, sequence.level(l, t), "a freed block holds a live token");
                    }
                }
            }
            assertEquals(d, v.deviceCount(), "device list of layer " + l);
            assertEquals(h, v.hostCount(), "host list of layer " + l);
            int tail = sequence.blocks() - 1;
            if (tail >= 0 && sequence.tier(l, tail) != Tier.NONE) {
                assertEquals(Tier.DEVICE, sequence.tier(l, tail), "tail block of layer " + l);
                assertFalse(sequence.inFlight(l, tail), "tail block of layer " + l + " is being copied");
            }
        }
    }

    private void checkBlock(SlotArena arena, int slotIndex, int layer, int block, int rows) {
        arena.slab().read((long) slotIndex * descriptor.slotBytes(), slot, 0, slot.length);
        for (int r = 0; r < rows; r++) {
            int position = block * layout.blockSize() + r;
            for (int half = 0; half < 2; half++) {
                int offset = (int) (half == 0 ? descriptor.keyOffset(r) : descriptor.valueOffset(r));
                for (int i = 0; i < row.length; i++) {
                    expected[i] = value(sequence.id(), layer, position, half, i);
                }
                for (int i = 0; i < row.length; i++) {
                    if (slot[offset + i] != expected[i]) {
                        fail(arena.name() + " slot " + slotIndex + " (layer " + layer + " block " + block + ", position " + position
                                + (half == 0 ? " K" : " V") + ") byte " + i + " is " + slot[offset + i] + ", expected " + expected[i]);
                    }
                }
            }
        }
    }
}

package io.tierkv.tiering;

import io.tierkv.core.DType;
import io.tierkv.core.KvLayout;
import io.tierkv.core.Level;
import io.tierkv.core.Tier;
import io.tierkv.core.memory.MemoryKind;
import io.tierkv.core.memory.MemoryLedger;
import io.tierkv.core.policy.KvPolicy;
import io.tierkv.core.policy.Policies;
import io.tierkv.core.policy.PolicyContext;
import io.tierkv.cuda.driver.Backend;
import io.tierkv.tiering.arena.SlotArena;
import io.tierkv.tiering.copy.CopyDirection;
import io.tierkv.tiering.copy.CopyFaults;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A seeded randomized driver of the tiering API, as an engine would drive it, with every byte checked: up to 64
 * sequences on one manager (scripted policies that move any block anywhere, and the registry's real policies fed
 * random attention), prefill appends, decode steps, policy steps, closes, host budgets small enough to drop blocks,
 * about one copy in 40 failed by the engine's fault injection, waits for copies, and, now and then, the whole
 * manager closed and created again.
 *
 * <p>The oracle is a shadow copy on the Java heap of every K and V row written. After every operation every live
 * row of every open sequence is read back from the tier its view names and compared with the shadow; every block
 * a sequence reports freed must hold only evicted tokens; the manager's invariants must hold; and the process's
 * off-heap ledger must equal what the live manager allocated (after a manager closes: what it was before). Uses
 * only public API ({@link TierManager}, {@link Sequence}, {@link LayerView}, the arenas' slabs, {@link MemoryLedger}).
 */
final class SoakDriver {
    /** Two layers, two KV heads of 4 floats, blocks of 4 tokens: 256-byte slots, so every block is small and many. */
    static final KvLayout LAYOUT = new KvLayout(2, 2, 4, DType.F32, 4);
    static final int MAX_SEQUENCES = 64;
    private static final int MAX_LENGTH = 48;
    private static final String[] REAL_POLICIES = {"hierarchical:window=4,k=2,cache=3,normal=2,low=1", "h2o",
        "streaming:sinks=2,window=8", "full", "snapkv:window=4"};

    /** What a soak run saw. */
    record Result(long ops, long rowsChecked, long mismatches, long leakedBytes, long copyFailures, long refusedAppends,
                  long sequencesOpened, long managers, String firstMismatch) {
        String summary() {
            return String.format(java.util.Locale.ROOT, "soak: %,d ops, %,d rows checked, %d mismatches, %d leaked bytes"
                    + " (%,d copy failures injected, %,d appends refused for room, %,d sequences on %d managers)%s", ops, rowsChecked,
                    mismatches, leakedBytes, copyFailures, refusedAppends, sequencesOpened, managers,
                    firstMismatch == null ? "" : "; first mismatch: " + firstMismatch);
        }
    }

    /** One open sequence and its shadow rows. */
    private static final class Live {
        final Sequence sequence;
        final KvPolicy policy;
        final ScriptedPolicy scripted;
        final int prompt;
        /** (layer) shadow rows: position p's K at (2p) x rowBytes, its V at (2p + 1) x rowBytes. */
        final byte[][] rows;
        boolean decoding;

        Live(Sequence sequence, KvPolicy policy, ScriptedPolicy scripted, int prompt, int rowBytes) {
            this.sequence = sequence;
            this.policy = policy;
            this.scripted = scripted;
            this.prompt = prompt;
            this.rows = new byte[LAYOUT.layers()][2 * MAX_LENGTH * rowBytes];
        }
    }

    private final SplittableRandom random;
    private final AtomicLong failures = new AtomicLong();
    private final AtomicLong copies = new AtomicLong();
    private final List<Live> live = new ArrayList<>();
    private final MemoryLedger.Snapshot before = MemoryLedger.snapshot();
    private final long offHeapBefore = MemoryLedger.outstanding(MemoryKind.OFF_HEAP);
    private TierManager manager;
    private long managerBytes;
    private BlockDescriptor descriptor;
    private int rowBytes;
    private byte[] slot;
    private final float[] probs = new float[MAX_LENGTH + 1];
    private long ops;
    private long rowsChecked;
    private long mismatches;
    private long leakedBytes;
    private long refusedAppends;
    private long opened;
    private long managers;
    private String firstMismatch;

    SoakDriver(long seed) {
        this.random = new SplittableRandom(seed);
    }

    /** Fails about one copy in 40, decided by a hash of a counter: thread-safe, and the same count in distribution every run. */
    private final CopyFaults faults = new CopyFaults() {
        @Override
        public boolean fail(CopyDirection direction, int srcSlot, int dstSlot, int slots) {
            long c = copies.incrementAndGet();
            boolean fail = ((c * 0x9E3779B97F4A7C15L) >>> 40) % 40 == 0;
            if (fail) {
                failures.incrementAndGet();
            }
            return fail;
        }
    };

    /** Runs {@code n} operations and closes everything. */
    Result run(long n) {
        createManager();
        for (long i = 0; i < n; i++) {
            operate();
            ops++;
            check();
        }
        closeManager();
        return new Result(ops, rowsChecked, mismatches, leakedBytes, failures.get(), refusedAppends, opened, managers, firstMismatch);
    }

    private void createManager() {
        manager = TierManager.create(TierConfig.builder(LAYOUT).backend(Backend.CPU).deviceCapacityBlocks(360)
                .hostCapacityBlocks(600).faults(faults).build());
        managerBytes = MemoryLedger.outstanding(MemoryKind.OFF_HEAP) - offHeapBefore;
        descriptor = manager.descriptor();
        rowBytes = (int) descriptor.rowBytes();
        slot = new byte[(int) descriptor.slotBytes()];
        managers++;
    }

    private void closeManager() {
        for (Live l : live) {
            l.sequence.close();
        }
        live.clear();
        manager.close();
        long leaked = MemoryLedger.outstanding(MemoryKind.OFF_HEAP) - offHeapBefore;
        leakedBytes += Math.abs(leaked);
        if (leaked == 0) {
            before.assertNoLeaks(); // allocations too, and every other kind
        }
    }

    private void operate() {
        int choice = random.nextInt(1000);
        if (choice == 0 && random.nextInt(20) == 0) {
            closeManager();
            createManager();
        } else if (choice < 40 || live.isEmpty()) {
            open();
        } else if (choice < 60) {
            close(live.get(random.nextInt(live.size())));
        } else if (choice < 80) {
            manager.awaitCopies();
        } else {
            advance(live.get(random.nextInt(live.size())));
        }
    }

    private void open() {
        if (live.size() >= MAX_SEQUENCES) {
            close(live.get(random.nextInt(live.size())));
            return;
        }
        int layers = LAYOUT.layers();
        int prompt = 4 + random.nextInt(21);
        int device = layers + random.nextInt(3 * layers + 12);
        int host = random.nextInt(4) == 0 ? random.nextInt(10) : Integer.MAX_VALUE;
        ScriptedPolicy scripted = random.nextBoolean() ? new ScriptedPolicy() : null;
        KvPolicy policy = scripted != null ? scripted : Policies.create(REAL_POLICIES[random.nextInt(REAL_POLICIES.length)]);
        PolicyContext context = scripted != null ? PolicyContext.unbounded(layers, prompt)
                : PolicyContext.bounded(layers, prompt, 8 + random.nextInt(prompt + 8));
        Sequence s;
        try {
            s = manager.open(policy, context, device, host);
        } catch (IllegalStateException full) { // the device arena cannot reserve more tails: an answer, not an error
            return;
        }
        live.add(new Live(s, policy, scripted, prompt, rowBytes));
        opened++;
    }

    private void close(Live l) {
        l.sequence.close();
        live.remove(l);
    }

    /** The next thing this sequence's engine would do: a prefill chunk, the end of prefill, or a decode step. */
    private void advance(Live l) {
        Sequence s = l.sequence;
        if (s.length() >= MAX_LENGTH - 8) {
            close(l);
        } else if (!l.decoding && s.length() < l.prompt) {
            append(l, Math.min(l.prompt - s.length(), 1 + random.nextInt(8)));
        } else if (!l.decoding) {
            s.endPrefill();
            l.decoding = true;
        } else if (l.scripted != null && random.nextInt(3) == 0) {
            scriptedMoves(l);
            s.step();
        } else if (append(l, 1)) {
            if (l.scripted == null) {
                observe(l);
            }
            s.step();
        }
    }

    /** Appends and writes {@code count} positions; false if the manager refused for lack of room (nothing changed then). */
    private boolean append(Live l, int count) {
        Sequence s = l.sequence;
        int first = s.length();
        try {
            s.append(count);
        } catch (IllegalStateException noRoom) {
            refusedAppends++;
            return false;
        }
        SlotArena device = manager.deviceArena();
        for (int layer = 0; layer < LAYOUT.layers(); layer++) {
            byte[] rows = l.rows[layer];
            for (int p = first; p < first + count; p++) {
                for (int half = 0; half < 2; half++) {
                    int at = (2 * p + half) * rowBytes;
                    for (int i = 0; i < rowBytes; i += 8) {
                        long v = random.nextLong();
                        for (int k = 0; k < 8 && i + k < rowBytes; k++) {
                            rows[at + i + k] = (byte) (v >>> (8 * k));
                        }
                    }
                    long address = half == 0 ? s.keyAddress(layer, p) : s.valueAddress(layer, p);
                    device.slab().write(address - device.baseAddress(), rows, at, rowBytes);
                }
            }
        }
        return true;
    }

    /** Random attention over the live keys of each layer, sinks and a few favourites heavier. */
    private void observe(Live l) {
        Sequence s = l.sequence;
        int keys = s.length();
        for (int layer = 0; layer < LAYOUT.layers(); layer++) {
            float sum = 0;
            for (int t = 0; t < keys; t++) {
                float w = s.level(layer, t) == Level.EVICT_CODE ? 0 : (t < 2 ? 6 : t % 5 == 0 ? 4 : 1) * (0.25f + random.nextFloat());
                probs[t] = w;
                sum += w;
            }
            for (int t = 0; t < keys; t++) {
                probs[t] = sum > 0 ? probs[t] / sum : 0;
            }
            s.observe(layer, keys - 1, probs, 0, 1, keys, keys);
        }
    }

    private void scriptedMoves(Live l) {
        Sequence s = l.sequence;
        int moves = 1 + random.nextInt(4);
        for (int i = 0; i < moves; i++) {
            int layer = random.nextInt(LAYOUT.layers());
            int block = random.nextInt(Math.max(1, s.blocks()));
            byte level = switch (random.nextInt(6)) {
                case 0, 1 -> Level.LOW_CODE;
                case 2 -> Level.CACHE_CODE;
                case 3 -> Level.NORMAL_CODE;
                case 4 -> Level.EVICT_CODE;
                default -> (byte) -1;
            };
            if (level < 0) {
                l.scripted.setHeat(layer, random.nextInt(s.length()), random.nextInt(50));
            } else {
                l.scripted.moveBlock(layer, block, LAYOUT.blockSize(), level);
            }
        }
    }

    /** Every live row of every open sequence against its shadow, freed blocks, invariants, the ledger. */
    private void check() {
        for (Live l : live) {
            for (int layer = 0; layer < LAYOUT.layers(); layer++) {
                checkLayer(l, layer);
            }
        }
        manager.checkInvariants();
        long held = MemoryLedger.outstanding(MemoryKind.OFF_HEAP) - offHeapBefore;
        if (held != managerBytes) {
            mismatch("off-heap ledger holds " + held + " bytes, the manager allocated " + managerBytes);
        }
    }

    private void checkLayer(Live l, int layer) {
        Sequence s = l.sequence;
        LayerView v = s.view(layer);
        int listed = 0;
        if (v.length() != s.length()) {
            mismatch("sequence " + s.id() + " layer " + layer + ": the view is " + v.length() + " tokens long, the sequence " + s.length());
        }
        for (int i = 0; i < v.deviceCount(); i++) {
            checkListed(s, layer, Tier.DEVICE, v.deviceBlock(i), v.deviceSlot(i));
            checkBlock(l, layer, manager.deviceArena(), v.deviceSlot(i), v.deviceBlock(i), v.rows(v.deviceBlock(i)));
        }
        for (int i = 0; i < v.hostCount(); i++) {
            checkListed(s, layer, Tier.HOST, v.hostBlock(i), v.hostSlot(i));
            checkBlock(l, layer, manager.hostArena(), v.hostSlot(i), v.hostBlock(i), v.rows(v.hostBlock(i)));
        }
        listed += v.deviceCount() + v.hostCount();
        int liveBlocks = 0;
        int bs = LAYOUT.blockSize();
        for (int b = 0; b < s.blocks(); b++) {
            if (s.tier(layer, b) != Tier.NONE) {
                liveBlocks++;
                continue;
            }
            for (int t = b * bs; t < Math.min(s.length(), (b + 1) * bs); t++) {
                if (s.level(layer, t) != Level.EVICT_CODE) {
                    mismatch("sequence " + s.id() + " layer " + layer + " block " + b + " is freed but token " + t + " is live");
                }
            }
        }
        if (liveBlocks != listed) {
            mismatch("sequence " + s.id() + " layer " + layer + ": " + liveBlocks + " live blocks, the view lists " + listed);
        }
    }

    /** A view (kept between residency changes, {@link Sequence#residencyVersion}) lists the block where the sequence says it is now. */
    private void checkListed(Sequence s, int layer, Tier tier, int block, int slot) {
        if (s.tier(layer, block) != tier || s.slot(layer, block) != slot) {
            mismatch("sequence " + s.id() + " layer " + layer + ": the view lists block " + block + " in " + tier + " slot " + slot
                    + ", the sequence has it in " + s.tier(layer, block) + " slot " + s.slot(layer, block));
        }
    }

    private void checkBlock(Live l, int layer, SlotArena arena, int slotIndex, int block, int rows) {
        arena.slab().read((long) slotIndex * descriptor.slotBytes(), slot, 0, slot.length);
        byte[] shadow = l.rows[layer];
        for (int r = 0; r < rows; r++) {
            int p = block * LAYOUT.blockSize() + r;
            int k = (int) descriptor.keyOffset(r);
            int v = (int) descriptor.valueOffset(r);
            if (Arrays.mismatch(slot, k, k + rowBytes, shadow, 2 * p * rowBytes, (2 * p + 1) * rowBytes) >= 0
                    || Arrays.mismatch(slot, v, v + rowBytes, shadow, (2 * p + 1) * rowBytes, (2 * p + 2) * rowBytes) >= 0) {
                mismatch(arena.name() + " slot " + slotIndex + ": sequence " + l.sequence.id() + " layer " + layer + " position " + p
                        + " differs from what was written");
            }
            rowsChecked += 2;
        }
    }

    private void mismatch(String what) {
        mismatches++;
        if (firstMismatch == null) {
            firstMismatch = "after op " + ops + ": " + what;
        }
    }
}

package io.tierkv.tiering;

import io.tierkv.core.KvLayout;
import io.tierkv.core.placement.Placement;
import io.tierkv.core.placement.PlacementConfig;
import io.tierkv.core.policy.KvPolicy;
import io.tierkv.core.policy.PolicyContext;
import io.tierkv.cuda.driver.Backend;
import io.tierkv.tiering.arena.SlotArena;
import io.tierkv.tiering.copy.CopyDirection;
import io.tierkv.tiering.copy.CopyEngine;
import io.tierkv.tiering.copy.CopyStats;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The tier manager: owns the device arena, the host arena, the copy engine between them and the block pool,
 * and carries out each sequence's placement on them (see {@link Sequence} and core's
 * {@link io.tierkv.core.placement.Placement}).
 *
 * <p>Ordering rules it keeps:
 * <ul>
 *   <li>Only a sequence's last block per layer is written, and it never moves; a block in flight is never
 *       written, and readers use its source until the copy is reaped.</li>
 *   <li>Completed copies are reaped only on the owner thread, inside {@code append}, {@code sharePrefix},
 *       {@code endPrefill}, {@code step}, {@code awaitCopies} and {@code close}, so a {@link LayerView} never changes under the model in the
 *       middle of a step; and each reap point reaps exactly the copies submitted before the previous one
 *       (waiting for them if need be; earlier ones, in order, when a slot or the copy window runs out), so
 *       residency never depends on how fast a copy ran.</li>
 *   <li>A slot is freed only after the copy that read or wrote it has been reaped.</li>
 * </ul>
 *
 * <p>Several sequences share the arenas; each has its own device budget (blocks over all layers, at least one
 * per layer for the tails) and optional host budget. An append that needs more device slots than are free
 * demotes the least popular written blocks, of the appending sequence first and then of the others, and waits
 * for those copies (the wait is {@link TierStats#stallNanos()}). Not thread-safe: one owner thread drives the
 * manager and all its sequences (the copy engine runs its own thread or streams).
 *
 * <p><b>Prefix sharing.</b> Sequences that declare their prompt ({@link Sequence#sharePrefix}) publish its full
 * blocks here by content key once written, and a later sequence whose prompt starts with the same blocks (same
 * tokens, model and KV layout) holds the same blocks instead of computing and storing its own: one copy in memory,
 * reference counted in the block pool, freed when the last holder lets go. Full blocks are never written again,
 * so no copy-on-write is needed. Each holder keeps its own policy, levels and placement; the memory follows the
 * rule <em>a shared block lives on the highest tier any holder places it on</em> (device above host), so it is
 * demoted only when no holder wants it on the device, and freed only when every holder has freed it (or closed).
 * It is counted once, in the counters and budget figures of one holder that places it where it is (its accounting
 * owner); a holder that places it lower is not charged for it. When a holder lets go, the others' placements are
 * followed at their next operation, as after a failed copy.
 */
public final class TierManager implements AutoCloseable {
    /** Invariants re-checked after every operation, {@code -Dtierkv.debug=true}. */
    static final boolean DEBUG = Boolean.getBoolean("tierkv.debug");

    private final TierConfig config;
    private final BlockDescriptor descriptor;
    private final TierMemory memory;
    private final SlotArena device;
    private final SlotArena host;
    private final CopyEngine engine;
    private final BlockPool pool;
    private final TierCounters counters = new TierCounters();
    private final PlacementConfig placementConfig;
    /** Published full prompt blocks by content key (prefix sharing). */
    private final PrefixIndex prefixes;
    /** The last slot handed out per arena, so consecutive copies get consecutive slots (long runs). */
    private int lastDeviceSlot = -2;
    private int lastHostSlot = -2;
    /** Open sequences by id; null where the id is free. */
    private final List<Sequence> sequences = new ArrayList<>();
    private int openCount;
    /** Tail slots reserved by open sequences: one per layer each. */
    private int reservedTails;
    /** Runs the copy engine had submitted at the previous reap point: what the next one reaps ({@link #reapCopies}). */
    private long reapMark;
    private boolean closed;
    /** The thread that created the manager: the only one that may drive it (a reference compare per call). */
    private final Thread owner = Thread.currentThread();

    private TierManager(TierConfig config) {
        this.config = config;
        this.descriptor = new BlockDescriptor(config.layout());
        this.memory = TierMemory.open(config, this::onCopied);
        this.device = memory.device();
        this.host = memory.host();
        this.engine = memory.engine();
        this.pool = new BlockPool(device, host, config.layout().layers());
        this.prefixes = new PrefixIndex(device.capacity() + host.capacity());
        this.placementConfig = PlacementConfig.defaults();
    }

    /** Allocates both arenas in full and starts the copy engine. */
    public static TierManager create(TierConfig config) {
        if (config == null) {
            throw new IllegalArgumentException("config must not be null");
        }
        return new TierManager(config);
    }

    /** Opens a sequence with no host budget (the host arena is the only limit). */
    public Sequence open(KvPolicy policy, PolicyContext context, int deviceBudgetBlocks) {
        return open(policy, context, deviceBudgetBlocks, Integer.MAX_VALUE);
    }

    /**
     * Opens a sequence with its budgets in one unit, tokens per layer ({@link SequenceBudget}): the policy's
     * context and the tiers' block budgets are derived from {@code budget}.
     *
     * @param promptLength tokens the prompt will have (the policy's context)
     */
    public Sequence open(KvPolicy policy, int promptLength, SequenceBudget budget) {
        if (budget == null) {
            throw new IllegalArgumentException("budget must not be null");
        }
        KvLayout layout = config.layout();
        return open(policy, budget.context(layout, promptLength), budget.deviceBlocks(layout), budget.hostBlocks(layout));
    }

    /**
     * Opens a sequence: starts {@code policy} (which must be fresh) with {@code context}.
     *
     * @param deviceBudgetBlocks device blocks this sequence may keep, over all layers; at least one per layer
     * @param hostBudgetBlocks   host blocks it may keep ({@code >= 0}); beyond, the least popular are dropped
     * @throws IllegalArgumentException for a budget that cannot work or a context of the wrong shape
     * @throws IllegalStateException    when the device arena cannot reserve this sequence's tail blocks
     */
    public Sequence open(KvPolicy policy, PolicyContext context, int deviceBudgetBlocks, int hostBudgetBlocks) {
        checkOpen();
        int layers = config.layout().layers();
        if (policy == null || context == null) {
            throw new IllegalArgumentException("policy and context must not be null");
        }
        if (context.layers() != layers) {
            throw new IllegalArgumentException("context has " + context.layers() + " layers, the KV layout " + layers);
        }
        if (deviceBudgetBlocks < layers) {
            throw new IllegalArgumentException("deviceBudgetBlocks = " + deviceBudgetBlocks + " cannot hold the " + layers
                    + " tail blocks (one per layer) that always stay on the device");
        }
        if (deviceBudgetBlocks > device.capacity()) {
            throw new IllegalArgumentException("deviceBudgetBlocks = " + deviceBudgetBlocks + " exceeds the device arena's "
                    + device.capacity() + " slots");
        }
        if (hostBudgetBlocks < 0) {
            throw new IllegalArgumentException("hostBudgetBlocks must be >= 0, was " + hostBudgetBlocks);
        }
        if (reservedTails + layers > device.capacity()) {
            throw new IllegalStateException("the device arena's " + device.capacity() + " slots cannot reserve " + layers
                    + " more tail blocks: " + openCount + " open sequences already reserve " + reservedTails);
        }
        int id = sequences.indexOf(null);
        if (id < 0) {
            id = sequences.size();
            sequences.add(null);
        }
        policy.start(context);
        pool.ensureSequence(id);
        Sequence s = new Sequence(this, pool, id, policy, context.counter(), deviceBudgetBlocks, hostBudgetBlocks, placementConfig);
        sequences.set(id, s);
        openCount++;
        reservedTails += layers;
        return s;
    }

    /**
     * Waits for every copy in flight and reaps them all, so that every block has settled in its tier. Like a
     * step, this invalidates views. The wait counts as stall time.
     */
    public void awaitCopies() {
        checkOpen();
        counters.stallNanos += engine.drain();
    }

    /** Submits staged copies, waits for every copy in flight and reaps them (stall time). */
    void awaitCopiesInternal() {
        engine.flush();
        counters.stallNanos += engine.drain();
    }

    /**
     * Reaps the copies submitted before the previous reap point, in submission order, waiting for any still running
     * (stall time), and no later ones: residency flips, source slots are freed. A copy that an operation starts
     * thus lands at the start of the operation after the next (a step's promotions run while the next token is
     * computed), or sooner, still in submission order, when an operation must wait for a slot or the copy window
     * is full; either way where every block is, and so every attention sum, depends only on the calls made, not on
     * how fast the copies ran. The price: a source slot is held up to two operations, not one. Owner thread only.
     */
    void reapCopies() {
        long mark = reapMark;
        reapMark = engine.submittedRuns();
        counters.stallNanos += engine.reapThrough(mark);
    }

    /** The copy engine's sink: one finished run of slots. */
    private void onCopied(CopyDirection direction, int srcSlot, int dstSlot, int slots, boolean ok) {
        boolean toHost = direction == CopyDirection.DEVICE_TO_HOST;
        for (int i = 0; i < slots; i++) {
            int h = toHost ? pool.atHost(dstSlot + i) : pool.atDevice(dstSlot + i);
            int source = h == BlockPool.NONE ? BlockPool.NONE : toHost ? pool.deviceSlot(h) : pool.hostSlot(h);
            byte expected = toHost ? BlockPool.TO_HOST : BlockPool.TO_DEVICE;
            if (h == BlockPool.NONE || pool.state(h) != expected || source != srcSlot + i) {
                throw new IllegalStateException(direction.shortName() + " copy " + (srcSlot + i) + " -> " + (dstSlot + i)
                        + " finished, but the destination slot is held by handle " + h + " which is not that copy");
            }
            int owner = pool.completed(h, ok);
            if (!ok && owner != BlockPool.NONE) {
                Sequence s = sequences.get(owner);
                if (s != null) {
                    s.retry(pool.layerOf(h), pool.blockOf(h));
                }
            }
        }
    }

    /** Throws before an append allocates anything if its new blocks cannot get device slots at all. */
    void checkRoomForAppend(Sequence s, int needed) {
        if (needed <= device.free()) {
            return;
        }
        long obtainable = device.free() + pool.total(BlockPool.TO_HOST_IN_FLIGHT);
        for (Sequence other : sequences) {
            if (other != null) {
                obtainable += other.sheddable();
            }
        }
        if (obtainable < needed) {
            throw new IllegalStateException("append needs " + needed + " device slots but the device arena of " + device.capacity()
                    + " slots can free only " + obtainable + " (the rest hold tail blocks or blocks being written); "
                    + "raise deviceCapacityBlocks or append fewer tokens at once");
        }
    }

    /** Starts moving enough placed blocks off the device that {@code needed} slots will come free. */
    void makeRoom(Sequence s, int needed) {
        int deficit = needed - device.free() - pool.total(BlockPool.TO_HOST_IN_FLIGHT);
        if (deficit <= 0) {
            return;
        }
        deficit -= s.shed(deficit);
        for (int i = 0; i < sequences.size() && deficit > 0; i++) {
            Sequence other = sequences.get(i);
            if (other != null && other != s) {
                deficit -= other.shed(deficit);
            }
        }
    }

    /**
     * A device slot for a new block, waiting for demotions to land when none is free, or when {@code s} holds its whole
     * budget in slots (copies in flight included: see {@link #deviceSlot(Sequence)}).
     */
    int acquireDeviceSlot(Sequence s, int preferred) {
        for (int attempt = 0; ; attempt++) {
            if (atSlotBudget(s)) {
                engine.flush();
                if (engine.inFlightCopies() > 0) {
                    counters.stallNanos += engine.awaitSome();
                    continue;
                }
            }
            int slot = device.allocateNear(preferred);
            if (slot != SlotArena.NO_SLOT) {
                return slot;
            }
            engine.flush();
            if (engine.inFlightCopies() > 0) {
                counters.stallNanos += engine.awaitSome();
                continue;
            }
            if (attempt >= TierDefaults.MAX_ROOM_ATTEMPTS) {
                throw new IllegalStateException("no device slot came free after " + attempt + " rounds of demotions; "
                        + engine.stats().failedCopies() + " copies have failed");
            }
            makeRoom(s, 1);
        }
    }

    /**
     * A free device slot for {@code s} next to the last one handed out when possible, or {@link SlotArena#NO_SLOT}, also
     * when {@code s} holds its device budget in slots already. A block being demoted keeps its device slot until the copy
     * lands; counting those slots, a sequence never holds more device memory than its budget, however large the arena
     * (the CUDA decoder's arena, reused across prompts, is larger than each prompt's budget; a CPU session's is the budget).
     */
    int deviceSlot(Sequence s) {
        if (atSlotBudget(s)) {
            return SlotArena.NO_SLOT;
        }
        int slot = device.allocateNear(lastDeviceSlot + 1);
        if (slot != SlotArena.NO_SLOT) {
            lastDeviceSlot = slot;
        }
        return slot;
    }

    /** Whether {@code s} holds as many device slots as its budget has blocks (slots of copies in flight included). */
    private boolean atSlotBudget(Sequence s) {
        return pool.count(s.id(), BlockPool.DEVICE_SLOTS) >= s.deviceBudgetBlocks();
    }

    /** True while a copy is staged or in flight: one of them may free a slot when it lands. */
    boolean copiesPending() {
        return engine.stagedBlocks() > 0 || engine.inFlightCopies() > 0;
    }

    /** A free host slot next to the last one handed out when possible, or {@link SlotArena#NO_SLOT}. */
    int hostSlot() {
        int slot = host.allocateNear(lastHostSlot + 1);
        if (slot != SlotArena.NO_SLOT) {
            lastHostSlot = slot;
        }
        return slot;
    }

    /** Starts the copy of block handle {@code h} into {@code slot} (allocated by the caller). */
    void startCopy(int h, CopyDirection direction, int slot) {
        if (direction == CopyDirection.DEVICE_TO_HOST) {
            pool.startDemote(h, slot);
            engine.stage(direction, pool.deviceSlot(h), slot);
            counters.demotionsStarted++;
        } else {
            pool.startPromote(h, slot);
            engine.stage(direction, pool.hostSlot(h), slot);
            counters.promotionsStarted++;
        }
    }

    /** Submits the staged copies. */
    void flushCopies() {
        engine.flush();
    }

    PrefixIndex prefixes() {
        return prefixes;
    }

    /** Full prompt blocks (all layers each) published for prefix sharing now. */
    public int sharedPrefixBlocks() {
        return prefixes.size();
    }

    /** One holder lets go of block handle {@code h}; true when it was the last and the block is freed. */
    boolean release(int h, int layer, int block) {
        if (pool.release(h)) {
            prefixes.forget(h);
            return true;
        }
        // The others hold it still: one of them becomes its owner, and follows its placement at its next operation.
        reown(h, layer, block);
        Sequence owner = sequences.get(pool.sequenceOf(h));
        owner.retry(layer, block);
        return false;
    }

    /**
     * Where a shared block must live: the highest tier any holder's placement puts it on, {@code Placement.DEVICE}
     * above {@code Placement.HOST}; {@code Placement.FREED} when none places it (a holder about to let go).
     */
    byte sharedWant(int h, int layer, int block) {
        byte want = Placement.FREED;
        for (Sequence s : sequences) {
            if (s != null && s.holds(layer, block, h)) {
                byte w = s.placement().where(layer, block);
                if (w == Placement.DEVICE) {
                    return w;
                }
                if (w == Placement.HOST) {
                    want = w;
                }
            }
        }
        return want;
    }

    /** Makes a holder that places shared block {@code h} where the holders want it its accounting owner. */
    void reown(int h, int layer, int block) {
        byte want = sharedWant(h, layer, block);
        int owner = BlockPool.NONE;
        for (Sequence s : sequences) {
            if (s != null && s.holds(layer, block, h)) {
                if (owner == BlockPool.NONE || s.placement().where(layer, block) == want) {
                    owner = s.id();
                }
                if (s.placement().where(layer, block) == want) {
                    break;
                }
            }
        }
        if (owner != BlockPool.NONE) {
            pool.reassign(h, owner);
        }
    }

    /**
     * A shared block's promotion found no device slot: every other holder that places it on the device retries at
     * its next operation (and tells its placement then if there is still no room).
     */
    void retryDeviceHolders(int h, int layer, int block, Sequence except) {
        for (Sequence s : sequences) {
            if (s != null && s != except && s.holds(layer, block, h) && s.placement().where(layer, block) == Placement.DEVICE) {
                s.retry(layer, block);
            }
        }
    }

    /** Whether some holder of shared block {@code h} will follow it at its next operation. */
    boolean pendingInSomeHolder(int h, int layer, int block) {
        for (Sequence s : sequences) {
            if (s != null && s.holds(layer, block, h) && s.isPending(layer, block)) {
                return true;
            }
        }
        return false;
    }

    /** Records a residency sample for {@code s}. */
    void sample(Sequence s) {
        counters.sample(s.id(), s.steps(), s.deviceBlocks(), s.hostBlocks(), s.keptTokens());
    }

    /** Waits for every copy, then frees the sequence's blocks and its tail reservation. */
    void closeSequence(Sequence s) {
        if (!closed && engine.failure() == null) {
            counters.stallNanos += engine.drain();
        }
        s.releaseAll();
        sequences.set(s.id(), null);
        openCount--;
        reservedTails -= config.layout().layers();
    }

    /**
     * Restarts the device and host peaks ({@link TierStats#deviceBlocksPeak()}, {@link TierStats#hostBlocksPeak()}) from
     * the slots in use now: for a caller that measures one sequence after another on the same manager (with
     * {@link TierStats#since} for the counters).
     */
    public void resetPeaks() {
        checkOpen();
        pool.resetPeaks();
    }

    /** A snapshot of traffic and residency. */
    public TierStats stats() {
        CopyStats c = engine.stats();
        long slot = slotBytes();
        return new TierStats(config.backend().name().toLowerCase(Locale.ROOT), engine.name(), slot,
                device.capacity(), host.capacity(),
                c.d2hBytes(), c.d2hBlocks(), c.d2hCopies(), c.h2dBytes(), c.h2dBlocks(), c.h2dCopies(),
                c.failedCopies(), c.failedBlocks(), c.minCopyBytes(), c.meanCopyBytes(), c.maxCopyBytes(), c.copySizeHistogram(),
                c.d2hNanos() + c.h2dNanos(), counters.stallNanos,
                counters.demotionsStarted, counters.promotionsStarted, counters.droppedBlocks, counters.evictedBlocks,
                closed ? 0 : device.used(), closed ? 0 : host.used(), pool.total(BlockPool.IN_FLIGHT),
                pool.peakDeviceSlots(), pool.peakHostSlots(), pool.peakDeviceSlots() * slot, pool.peakHostSlots() * slot,
                openCount, counters.residency(), counters.samplesDropped());
    }

    /**
     * Re-checks the whole manager: both arenas' free lists, the block pool against the arenas, every open
     * sequence against its block table. Throws {@link IllegalStateException} when something is broken.
     */
    public void checkInvariants() {
        checkOpen();
        device.checkInvariants();
        host.checkInvariants();
        pool.checkInvariants();
        prefixes.checkInvariants(pool);
        for (Sequence s : sequences) {
            if (s != null) {
                s.checkInvariants();
            }
        }
        checkHolders();
    }

    /** Every live handle is held by exactly {@code refs} open sequences, one of them its accounting owner. */
    private void checkHolders() {
        int[] holders = new int[device.capacity() + host.capacity()];
        for (Sequence s : sequences) {
            if (s != null) {
                s.countHandles(holders);
            }
        }
        for (int h = 0; h < holders.length; h++) {
            if (holders[h] == 0 && pool.refs(h) > 0 && !pool.isReleased(h)) {
                throw new IllegalStateException("block handle " + h + " is live (" + pool.refs(h) + " holders counted) but no open"
                        + " sequence holds it");
            }
            if (holders[h] > 0 && (holders[h] != pool.refs(h) || !sequences.get(pool.sequenceOf(h)).holds(pool.layerOf(h),
                    pool.blockOf(h), h))) {
                throw new IllegalStateException("block handle " + h + " is held by " + holders[h] + " sequences, counted "
                        + pool.refs(h) + ", owner " + pool.sequenceOf(h));
            }
        }
    }

    void debugCheck() {
        if (DEBUG) {
            checkInvariants();
        }
    }

    /** Base address of the device slab (a device pointer on CUDA): slot {@code s} is at {@code base + s * slotBytes}. */
    public long deviceBaseAddress() {
        return device.baseAddress();
    }

    /** Base address of the host slab. */
    public long hostBaseAddress() {
        return host.baseAddress();
    }

    /** Bytes of one slot: one block of one layer, {@code (2, blockSize, kvHeads, headDim)} of the dtype. */
    public long slotBytes() {
        return descriptor.slotBytes();
    }

    public int deviceCapacityBlocks() {
        return device.capacity();
    }

    public int hostCapacityBlocks() {
        return host.capacity();
    }

    public TierConfig config() {
        return config;
    }

    public Backend backend() {
        return config.backend();
    }

    public BlockDescriptor descriptor() {
        return descriptor;
    }

    /** The device arena (reads and writes of whole slots go through its slab). */
    public SlotArena deviceArena() {
        checkOpen();
        return device;
    }

    /** The host arena. */
    public SlotArena hostArena() {
        checkOpen();
        return host;
    }

    /** Sequences open now. */
    public int openSequences() {
        return openCount;
    }

    TierCounters counters() {
        return counters;
    }

    /**
     * Every operation of the manager and its sequences starts here: the manager must be open, driven by the thread
     * that created it, and its copy engine alive (a dead copy thread fails every later call with its cause).
     */
    void checkOpen() {
        if (closed) {
            throw new IllegalStateException("tier manager is closed");
        }
        Thread current = Thread.currentThread();
        if (current != owner) {
            throw new IllegalStateException("TierManager is driven by thread '" + owner.getName() + "' but was called from '"
                    + current.getName() + "'; a manager and its sequences are single-threaded");
        }
        Throwable failure = engine.failure();
        if (failure != null) {
            throw new IllegalStateException("the copy engine failed: " + failure, failure);
        }
    }

    /**
     * Closes every open sequence (waiting for their copies), stops the copy engine and frees both arenas;
     * idempotent. Throws afterwards if any slot was still in use, which would be a leak in this module.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        int leakedDevice;
        int leakedHost;
        boolean failed = engine.failure() != null;
        try {
            for (Sequence s : new ArrayList<>(sequences)) {
                if (s != null) {
                    s.close();
                }
            }
            if (!failed) {
                engine.drain();
            }
        } finally {
            leakedDevice = device.used();
            leakedHost = host.used();
            closed = true;
            memory.close();
        }
        // After a copy-engine failure, slots of copies that never finished are still marked in use; the slabs are
        // freed all the same, and the failure was already reported by the call that met it.
        if (!failed && (leakedDevice != 0 || leakedHost != 0)) {
            throw new IllegalStateException("tier manager closed with " + leakedDevice + " device and " + leakedHost
                    + " host slots still in use");
        }
    }

    @Override
    public String toString() {
        return "TierManager[" + config.backend() + ", device " + (closed ? "-" : device.used()) + "/" + device.capacity()
                + ", host " + (closed ? "-" : host.used()) + "/" + host.capacity() + ", " + openCount + " sequences]";
    }
}

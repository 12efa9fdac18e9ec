package io.tierkv.tiering;

import io.tierkv.core.Level;
import io.tierkv.core.Tier;
import io.tierkv.core.Transitions;
import io.tierkv.core.block.BlockTable;
import io.tierkv.core.policy.KvPolicy;
import java.util.Arrays;

/**
 * One sequence's KV cache in a {@link TierManager}: its policy, the core {@link BlockTable} that folds token
 * levels into block levels, and for each layer and logical block the pool handle of its memory.
 *
 * <p>Protocol (the policy's, see {@link KvPolicy}): {@link #append} new positions, write their K and V at
 * {@link #keyAddress}/{@link #valueAddress}, read through {@link #view}, report attention with
 * {@link #observe}, then {@link #endPrefill} once and {@link #step} per generated token. The manager carries
 * the policy's decisions out in {@code append}, {@code step} and {@code endPrefill} (and only there):
 * CACHE/NORMAL blocks on the device, LOW on the host, EVICT freed, within this sequence's device budget
 * (blocks over all layers) and optional host budget. Each layer's last block, which receives new tokens,
 * always stays on the device.
 *
 * <p>A block that is dropped for lack of host room (counted in {@link TierStats#droppedBlocks()}) is gone:
 * its tokens read as EVICT through {@link #level} and no longer count as kept. Not thread-safe: the
 * manager's owner thread drives every sequence.
 */
public final class Sequence implements AutoCloseable {
    /** Handle value of a block freed because its tokens were all evicted. */
    static final int EVICTED = -1;
    /** Handle value of a block freed for lack of host room. */
    static final int DROPPED = -2;

    private final TierManager manager;
    private final BlockPool pool;
    private final int id;
    private final KvPolicy policy;
    private final BlockTable table;
    private final BlockDescriptor descriptor;
    private final int layers;
    private final int blockSize;
    private final int deviceBudget;
    private final int hostBudget;
    /** (layer, block) pool handle, {@link #EVICTED} or {@link #DROPPED}. */
    private int[][] handles;
    private final Transitions tokenMoves = new Transitions();
    private final Transitions blockMoves = new Transitions();
    private final LayerView[] views;
    /** (layer) manager epoch at which the view was built; -1 for never. */
    private final long[] viewEpochs;
    private int droppedBlocks;
    /**
     * Blocks below this index are written and may move: after an append, the blocks before the first one it
     * touched; after a step or the end of the prefill, all but the last.
     */
    private int movableBelow;
    private int steps;
    private boolean closed;

    Sequence(TierManager manager, BlockPool pool, int id, KvPolicy policy, int deviceBudget, int hostBudget) {
        this.manager = manager;
        this.pool = pool;
        this.id = id;
        this.policy = policy;
        this.descriptor = manager.descriptor();
        this.layers = descriptor.layout().layers();
        this.blockSize = descriptor.blockSize();
        this.table = new BlockTable(layers, blockSize);
        this.deviceBudget = deviceBudget;
        this.hostBudget = hostBudget;
        this.handles = new int[layers][16];
        for (int[] row : handles) {
            Arrays.fill(row, EVICTED);
        }
        this.views = new LayerView[layers];
        this.viewEpochs = new long[layers];
        for (int l = 0; l < layers; l++) {
            views[l] = new LayerView(l, blockSize, manager.deviceBaseAddress(), manager.hostBaseAddress(), manager.slotBytes());
            viewEpochs[l] = -1;
        }
    }

    /** This sequence's id in its manager (ids of closed sequences are reused). */
    public int id() {
        return id;
    }

    public KvPolicy policy() {
        return policy;
    }

    /** Tokens appended so far. */
    public int length() {
        return table.length();
    }

    /** Logical blocks per layer, freed ones included. */
    public int blocks() {
        return table.blocks();
    }

    public int deviceBudgetBlocks() {
        return deviceBudget;
    }

    /** The host budget in blocks, {@link Integer#MAX_VALUE} when unbounded. */
    public int hostBudgetBlocks() {
        return hostBudget;
    }

    /** Steps taken (calls of {@link #step()}). */
    public int steps() {
        return steps;
    }

    /**
     * Appends {@code count} positions {@code [length, length + count)} in every layer: tells the policy and the
     * block table and gives every new block a device slot, demoting the least popular older blocks (or
     * dropping them when the host has no room) to stay within the device budget. Afterwards the caller writes
     * K and V of the new positions.
     *
     * @throws IllegalArgumentException for {@code count <= 0}
     * @throws IllegalStateException    when the device arena cannot hold the new blocks even after moving
     *                                  every older block away (nothing is changed then)
     */
    public void append(int count) {
        checkOpen();
        if (count <= 0) {
            throw new IllegalArgumentException("append count must be > 0, was " + count);
        }
        manager.reapCopies();
        int oldLength = table.length();
        int oldBlocks = table.blocks();
        long newLength = (long) oldLength + count;
        if (newLength > Integer.MAX_VALUE || (newLength + blockSize - 1) / blockSize > Integer.MAX_VALUE / layers) {
            throw new IllegalArgumentException("append of " + count + " tokens to " + oldLength + " exceeds the block index space");
        }
        int newBlocks = (int) ((newLength + blockSize - 1) / blockSize);
        int needed = layers * (newBlocks - oldBlocks);
        int written = oldLength / blockSize;
        manager.checkRoomForAppend(this, needed, written);
        policy.append(count);
        blockMoves.clear();
        table.append(count, Level.NORMAL_CODE, blockMoves);
        ensureBlocks(newBlocks);
        if (needed > 0) {
            manager.makeRoom(this, needed, written);
            for (int l = 0; l < layers; l++) {
                int previous = -2;
                for (int b = oldBlocks; b < newBlocks; b++) {
                    int slot = manager.acquireDeviceSlot(this, previous + 1, written);
                    handles[l][b] = pool.createOnDevice(id, l, b, slot);
                    previous = slot;
                }
            }
        }
        movableBelow = written;
        manager.planner().reconcile(this, written);
        manager.touch();
        manager.debugCheck();
    }

    /** Where to write the K row ({@code kvHeads * headDim} elements) of {@code position} in {@code layer}. */
    public long keyAddress(int layer, int position) {
        return writableSlotAddress(layer, position) + descriptor.keyOffset(position % blockSize);
    }

    /** Where to write the V row of {@code position} in {@code layer}. */
    public long valueAddress(int layer, int position) {
        return writableSlotAddress(layer, position) + descriptor.valueOffset(position % blockSize);
    }

    private long writableSlotAddress(int layer, int position) {
        checkOpen();
        checkLayer(layer);
        if (position < 0 || position >= table.length()) {
            throw new IndexOutOfBoundsException("position " + position + " outside [0, " + table.length() + ")");
        }
        int b = position / blockSize;
        int h = handles[layer][b];
        if (h < 0) {
            throw new IllegalStateException("position " + position + " of layer " + layer + " is in block " + b + ", which was "
                    + (h == DROPPED ? "dropped" : "evicted"));
        }
        if (pool.state(h) != BlockPool.DEVICE) {
            throw new IllegalStateException("position " + position + " of layer " + layer + " is in block " + b + ", which is "
                    + BlockPool.stateName(pool.state(h)) + "; only blocks settled on the device are written");
        }
        return manager.deviceArena().address(pool.deviceSlot(h));
    }

    /** The live blocks of {@code layer} by tier; see {@link LayerView} for how long it stays valid. */
    public LayerView view(int layer) {
        checkOpen();
        checkLayer(layer);
        LayerView v = views[layer];
        if (viewEpochs[layer] != manager.epoch()) {
            v.reset(table.length());
            int[] hs = handles[layer];
            for (int b = 0, n = table.blocks(); b < n; b++) {
                int h = hs[b];
                if (h < 0) {
                    continue;
                }
                byte s = pool.state(h);
                if (s == BlockPool.DEVICE || s == BlockPool.TO_HOST) {
                    v.addDevice(pool.deviceSlot(h), b);
                } else {
                    v.addHost(pool.hostSlot(h), b);
                }
            }
            viewEpochs[layer] = manager.epoch();
        }
        return v;
    }

    /** Forwards one query's attention in one layer to the policy. */
    public void observe(int layer, int queryPosition, float[] probs, int offset, int heads, int stride, int keys) {
        checkOpen();
        policy.observe(layer, queryPosition, probs, offset, heads, stride, keys);
    }

    /** The prompt is complete: runs the policy's end of prefill and carries out its transitions. */
    public void endPrefill() {
        checkOpen();
        manager.reapCopies();
        tokenMoves.clear();
        policy.endPrefill(tokenMoves);
        afterPolicy();
    }

    /** One generated token: runs the policy's step and carries out its transitions. */
    public void step() {
        checkOpen();
        manager.reapCopies();
        tokenMoves.clear();
        policy.step(tokenMoves);
        steps++;
        afterPolicy();
    }

    private void afterPolicy() {
        blockMoves.clear();
        table.apply(tokenMoves, blockMoves);
        for (int i = 0; i < blockMoves.size(); i++) {
            if (blockMoves.to(i) == Level.EVICT_CODE) {
                evict(blockMoves.layer(i), blockMoves.index(i));
            }
        }
        movableBelow = table.tailBlock();
        manager.planner().reconcile(this, movableBelow);
        manager.touch();
        manager.sample(this);
        manager.debugCheck();
    }

    private void evict(int layer, int block) {
        int h = handles[layer][block];
        if (h == DROPPED) {
            droppedBlocks--;
        } else if (h >= 0) {
            pool.release(h);
            manager.counters().evictedBlocks++;
        }
        handles[layer][block] = EVICTED;
    }

    /** Frees a block for lack of host room (called by the planner). */
    void drop(int layer, int block) {
        int h = handles[layer][block];
        pool.release(h);
        handles[layer][block] = DROPPED;
        droppedBlocks++;
        manager.counters().droppedBlocks++;
    }

    /**
     * The level of one token: the policy's, except that tokens of a dropped block read as EVICT (their keys
     * and values are gone).
     */
    public byte level(int layer, int token) {
        checkLayer(layer);
        byte level = policy.level(layer, token);
        return handles[layer][token / blockSize] == DROPPED ? Level.EVICT_CODE : level;
    }

    /** Live tokens, mean over layers (dropped blocks' tokens are not live). */
    public int keptTokens() {
        long live = 0;
        for (int l = 0; l < layers; l++) {
            live += policy.liveTokens(l);
        }
        if (droppedBlocks > 0) {
            for (int l = 0; l < layers; l++) {
                for (int b = 0, n = table.blocks(); b < n; b++) {
                    if (handles[l][b] == DROPPED) {
                        live -= table.tokensAt(l, b, Level.CACHE) + table.tokensAt(l, b, Level.NORMAL) + table.tokensAt(l, b, Level.LOW);
                    }
                }
            }
        }
        return (int) Math.round((double) live / layers);
    }

    /** Bytes of device slots this sequence holds (copy destinations included). */
    public long deviceBytes() {
        return (long) pool.count(id, BlockPool.DEVICE_SLOTS) * manager.slotBytes();
    }

    /** Bytes of host slots this sequence holds (copy destinations included). */
    public long hostBytes() {
        return (long) pool.count(id, BlockPool.HOST_SLOTS) * manager.slotBytes();
    }

    /** Blocks readers find on the device now (all layers; blocks being demoted included). */
    public int deviceBlocks() {
        return pool.count(id, BlockPool.DEVICE_RESIDENT);
    }

    /** Blocks readers find on the host now (all layers; blocks being promoted included). */
    public int hostBlocks() {
        return pool.count(id, BlockPool.HOST_RESIDENT);
    }

    /** Blocks that will be on the device once copies land: what the device budget limits. */
    public int committedDeviceBlocks() {
        return pool.count(id, BlockPool.DEVICE_COMMITTED);
    }

    /** Blocks that will be on the host once copies land: what the host budget limits. */
    public int committedHostBlocks() {
        return pool.count(id, BlockPool.HOST_COMMITTED);
    }

    /** Blocks being copied now. */
    public int inFlightBlocks() {
        return pool.count(id, BlockPool.IN_FLIGHT);
    }

    /** Blocks dropped for lack of host room and not evicted since. */
    public int droppedBlocks() {
        return droppedBlocks;
    }

    /**
     * Where readers find a block now: DEVICE (also while it is being demoted), HOST (also while being
     * promoted), or NONE when it was evicted or dropped.
     */
    public Tier tier(int layer, int block) {
        checkLayer(layer);
        if (block < 0 || block >= table.blocks()) {
            throw new IndexOutOfBoundsException("block " + block + " outside [0, " + table.blocks() + ")");
        }
        int h = handles[layer][block];
        if (h < 0) {
            return Tier.NONE;
        }
        byte s = pool.state(h);
        return s == BlockPool.DEVICE || s == BlockPool.TO_HOST ? Tier.DEVICE : Tier.HOST;
    }

    /** True while the block's copy is in flight. */
    public boolean inFlight(int layer, int block) {
        int h = handles[layer][block];
        return h >= 0 && (pool.state(h) == BlockPool.TO_HOST || pool.state(h) == BlockPool.TO_DEVICE);
    }

    /** The slot readers use for a block (in the tier {@link #tier} names), or -1 when it is gone. */
    public int slot(int layer, int block) {
        Tier t = tier(layer, block);
        int h = handles[layer][block];
        return t == Tier.NONE ? -1 : t == Tier.DEVICE ? pool.deviceSlot(h) : pool.hostSlot(h);
    }

    /**
     * Re-checks this sequence against its block table and the pool: every live block has a handle of this
     * sequence that names it, the last block of each layer is on the device, and after a step the device
     * budget holds.
     */
    public void checkInvariants() {
        checkOpen();
        table.checkInvariants();
        int tail = table.blocks() - 1;
        for (int l = 0; l < layers; l++) {
            for (int b = 0; b < table.blocks(); b++) {
                int h = handles[l][b];
                byte level = table.level(l, b);
                if (h >= 0) {
                    if (pool.sequenceOf(h) != id || pool.layerOf(h) != l || pool.blockOf(h) != b || pool.isReleased(h)
                            || pool.state(h) == BlockPool.FREE) {
                        throw new IllegalStateException("sequence " + id + " layer " + l + " block " + b + ": handle " + h + " belongs elsewhere");
                    }
                    if (level == Level.EVICT_CODE) {
                        throw new IllegalStateException("sequence " + id + " layer " + l + " block " + b + " is EVICT but holds memory");
                    }
                } else if (h == EVICTED && level != Level.EVICT_CODE) {
                    throw new IllegalStateException("sequence " + id + " layer " + l + " block " + b + " was freed but is at " + Level.of(level));
                }
                if (b == tail && h >= 0 && pool.state(h) != BlockPool.DEVICE) {
                    throw new IllegalStateException("sequence " + id + " layer " + l + ": tail block " + b + " is " + BlockPool.stateName(pool.state(h)));
                }
            }
        }
    }

    /** True if the committed device blocks are within the budget (after a step or end of prefill, always). */
    public boolean withinDeviceBudget() {
        return committedDeviceBlocks() <= deviceBudget;
    }

    /** Frees this sequence's blocks, after waiting for its copies; idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        manager.closeSequence(this);
        closed = true;
    }

    /** Releases every handle (called by the manager once no copy is in flight). */
    void releaseAll() {
        for (int l = 0; l < layers; l++) {
            for (int b = 0, n = table.blocks(); b < n; b++) {
                if (handles[l][b] >= 0) {
                    pool.release(handles[l][b]);
                }
                handles[l][b] = EVICTED;
            }
        }
    }

    boolean isClosed() {
        return closed;
    }

    /** Blocks below this index are written and may be moved to make room for another sequence. */
    int movableBelow() {
        return movableBelow;
    }

    int handle(int layer, int block) {
        return handles[layer][block];
    }

    int layers() {
        return layers;
    }

    BlockTable table() {
        return table;
    }

    private void ensureBlocks(int n) {
        if (n <= handles[0].length) {
            return;
        }
        int capacity = Math.max(n, handles[0].length * 2);
        for (int l = 0; l < layers; l++) {
            int old = handles[l].length;
            handles[l] = Arrays.copyOf(handles[l], capacity);
            Arrays.fill(handles[l], old, capacity, EVICTED);
        }
    }

    private void checkLayer(int layer) {
        if (layer < 0 || layer >= layers) {
            throw new IndexOutOfBoundsException("layer " + layer + " outside [0, " + layers + ")");
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("sequence " + id + " is closed");
        }
        manager.checkOpen();
    }

    @Override
    public String toString() {
        return "Sequence[" + id + ", " + table.length() + " tokens, device " + deviceBlocks() + " / budget " + deviceBudget
                + ", host " + hostBlocks() + ", dropped " + droppedBlocks + "]";
    }
}

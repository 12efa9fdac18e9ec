package io.tierkv.tiering;

import io.tierkv.core.Level;
import io.tierkv.core.Tier;
import io.tierkv.core.Transitions;
import io.tierkv.core.block.BlockTable;
import io.tierkv.core.placement.Moves;
import io.tierkv.core.placement.Placement;
import io.tierkv.core.placement.PlacementConfig;
import io.tierkv.core.placement.TierMode;
import io.tierkv.core.policy.KvPolicy;
import io.tierkv.core.popularity.PopularityCounter;
import io.tierkv.core.prefix.BlockHash;
import io.tierkv.core.prefix.PrefixChain;
import io.tierkv.core.prefix.PrefixNamespace;
import io.tierkv.tiering.arena.SlotArena;
import io.tierkv.tiering.copy.CopyDirection;
import java.util.Arrays;
import java.util.List;

/**
 * One sequence's KV cache in a {@link TierManager}: its policy, the core {@link BlockTable} that folds token
 * levels into block levels, core's {@link Placement} that decides where each block lives, and for each layer and
 * logical block the pool handle of its memory.
 *
 * <p>Protocol (the policy's, see {@link KvPolicy}): {@link #append} new positions, write their K and V at
 * {@link #keyAddress}/{@link #valueAddress}, read through {@link #view}, report attention with
 * {@link #observe} (or {@link #observeSelected}), then {@link #endPrefill} once and {@link #step} per generated
 * token. Decisions are made in {@code append}, {@code step} and {@code endPrefill} (and only there):
 *
 * <ul>
 *   <li>The placement decides; this class carries its moves out (copies through the manager's engine, frees
 *       through the pool) and never decides anything itself. The placement is the one record of where a
 *       block belongs; the pool records where its bytes are now. They differ only while a copy is in flight or
 *       after a copy failed: such blocks are on a short dirty list and their copy is (re)started at the next
 *       operation, so bookkeeping per step grows with what changed, not with the sequence.</li>
 *   <li>A block is placed when it is written and no longer the tail (each layer's last block always stays on
 *       the device, outside the budget); requests are the top-k keys of each query, per block.</li>
 *   <li>Evicted tokens: in {@link TierMode#TIER} their blocks stay on the host and are still attended; in
 *       {@link TierMode#DROP} they are freed and {@link #masked masked}.</li>
 *   <li>Prefix sharing ({@link #sharePrefix}): the leading full prompt blocks another sequence of the manager
 *       already holds are held, not copied; this sequence still counts their popularity and places them itself,
 *       and the memory lives on the highest tier any holder places it on (see {@link TierManager}).</li>
 * </ul>
 *
 * <p>Not thread-safe: the manager's owner thread drives every sequence.
 */
public final class Sequence implements AutoCloseable {
    /** Handle value of a block that has no memory (freed, or not appended). */
    static final int NO_HANDLE = -1;
    /** The top-k of each query that counts as a request for placement. */
    static final int REQUEST_TOP_K = TierDefaults.REQUEST_TOP_K;

    private final TierManager manager;
    private final BlockPool pool;
    private final int id;
    private final KvPolicy policy;
    private final PopularityCounter counter;
    private final BlockTable table;
    private final Placement placement;
    private final BlockDescriptor descriptor;
    private final int layers;
    private final int blockSize;
    private final int deviceBudget;
    private final int hostBudget;
    /** (layer, block) pool handle, or {@link #NO_HANDLE}. */
    private int[][] handles;
    /** The tokens whose KV must not be attended (freed, or evicted in drop mode). */
    private final TokenMasks masks;
    /** Tokens written before the first token was masked ({@link #rowsBeforeFirstMask}); MAX_VALUE while none was. */
    private int rowsBeforeFirstMask = Integer.MAX_VALUE;
    /** During {@link #append}, the length before it (rows appended by it are written after it returns); -1 otherwise. */
    private int appendFrom = -1;
    private final Transitions tokenMoves = new Transitions();
    private final Transitions blockMoves = new Transitions();
    private final Moves moves = new Moves();
    /** Block keys ({@code block * layers + layer}) whose bytes are not where the placement wants them. */
    private int[] dirty = new int[64];
    /** Scratch for {@link #followDirty()}: the dirty promotions, followed after the demotions. */
    private int[] promotions = new int[64];
    private int dirtyCount;
    private final LayerView[] views;
    /** (layer) {@link #residencyVersion} at which the view's lists were built; -1 for never. */
    private final long[] viewVersions;
    /** (k) scratch for the request selection. */
    private final int[] selected = new int[REQUEST_TOP_K];
    /** Blocks below this index have been placed (all layers). */
    private int placedBelow;
    private boolean prefillDone;
    /** {@link #holdHostBudgetUntilEndPrefill} was called and {@link #endPrefill} has not run yet. */
    private boolean hostBudgetHeld;
    /** Told before a block's memory is freed; null for none. */
    private FreeListener freeListener;
    private int[][] priorCounts;
    /** Content keys of the declared prompt's full blocks ({@link #sharePrefix}); empty when none was declared. */
    private List<BlockHash> prefixKeys = List.of();
    /** Leading blocks attached from other sequences by {@link #sharePrefix}. */
    private int sharedBlocks;
    private int droppedBlocks;
    private int steps;
    private boolean closed;

    Sequence(TierManager manager, BlockPool pool, int id, KvPolicy policy, PopularityCounter counter, int deviceBudget,
             int hostBudget, PlacementConfig placementConfig) {
        this.manager = manager;
        this.pool = pool;
        this.id = id;
        this.policy = policy;
        this.counter = counter;
        this.descriptor = manager.descriptor();
        this.layers = descriptor.layout().layers();
        this.blockSize = descriptor.blockSize();
        this.table = new BlockTable(layers, blockSize);
        this.placement = new Placement(placementConfig, policy.tierMode(), layers, deviceBudget - layers, hostBudget);
        this.deviceBudget = deviceBudget;
        this.hostBudget = hostBudget;
        this.handles = new int[layers][16];
        this.masks = new TokenMasks(layers, blockSize, 16);
        for (int[] row : handles) {
            Arrays.fill(row, NO_HANDLE);
        }
        this.views = new LayerView[layers];
        this.viewVersions = new long[layers];
        for (int l = 0; l < layers; l++) {
            views[l] = new LayerView(l, manager.descriptor(), manager.deviceBaseAddress(), manager.hostBaseAddress(),
                    manager.deviceArena().slab().hostAccessible());
            viewVersions[l] = -1;
        }
    }

    /**
     * Told before one of a sequence's blocks loses its memory (the placement freed it, or a demotion found no
     * host room), while the block's bytes are still readable where {@link #tier} and {@link #slot} say: the
     * seam through which a lower tier (the remote tier) keeps what the host frees. Not told on {@link #close}.
     */
    @FunctionalInterface
    public interface FreeListener {
        void beforeFree(Sequence sequence, int layer, int block);
    }

    /** Sets the one listener told before a block is freed ({@code null} for none). */
    public void onFree(FreeListener listener) {
        this.freeListener = listener;
    }

    /** This sequence's id in its manager (ids of closed sequences are reused). */
    public int id() {
        return id;
    }

    public KvPolicy policy() {
        return policy;
    }

    /** The placement deciding where this sequence's blocks live (read-only use: reports, tests). */
    public Placement placement() {
        return placement;
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
     * Appends {@code count} positions {@code [length, length + count)} in every layer: places the blocks that
     * earlier calls wrote, tells the policy and the block table, and gives every new block a device slot
     * (moving other sequences' least valuable blocks to the host when the shared arena is full). The blocks of the
     * append stay on the device, unplaced, until the next one; over several blocks per layer, this sequence's own least
     * valuable placed blocks go to the host first so that it stays within its device budget (when they fit it at all).
     * Afterwards the caller writes K and V of the new positions.
     *
     * @throws IllegalArgumentException for {@code count <= 0}
     * @throws IllegalStateException    when the device arena cannot hold the new blocks even after moving
     *                                  every movable block away (nothing is changed then)
     */
    public void append(int count) {
        checkOpen();
        if (count <= 0) {
            throw new IllegalArgumentException("append count must be > 0, was " + count);
        }
        manager.reapCopies();
        int oldLength = table.length();
        appendFrom = oldLength;
        try {
            appendTokens(count, oldLength);
        } finally {
            appendFrom = -1;
        }
    }

    private void appendTokens(int count, int oldLength) {
        int oldBlocks = table.blocks();
        long newLength = (long) oldLength + count;
        if (newLength > Integer.MAX_VALUE || (newLength + blockSize - 1) / blockSize > Integer.MAX_VALUE / layers) {
            throw new IllegalArgumentException("append of " + count + " tokens to " + oldLength + " exceeds the block index space");
        }
        int newBlocks = (int) ((newLength + blockSize - 1) / blockSize);
        int needed = layers * (newBlocks - oldBlocks);
        placeWritten((int) Math.min((newLength - 1) / blockSize, oldLength / blockSize));
        finish();
        // The blocks this append spans stay on the device, unplaced, until the next one (they are written in between). Over
        // several blocks per layer they exceed the tail's place outside the placement's budget: it makes room for them, so
        // that the sequence keeps to its device budget however large the arena.
        manager.checkRoomForAppend(this, needed);
        int unplaced = layers * (newBlocks - placedBelow);
        int over = placement.deviceBlocks() + unplaced - deviceBudget;
        if (over > 0 && unplaced <= deviceBudget) { // blocks that alone exceed the budget (a whole prompt) shed nothing
            shed(over);
        }
        policy.append(count);
        blockMoves.clear();
        table.append(count, Level.NORMAL_CODE, blockMoves);
        foldLevels();
        ensureBlocks(newBlocks);
        if (needed > 0) {
            manager.makeRoom(this, needed);
            for (int l = 0; l < layers; l++) {
                int previous = -2;
                for (int b = oldBlocks; b < newBlocks; b++) {
                    int slot = manager.acquireDeviceSlot(this, previous + 1);
                    handles[l][b] = pool.createOnDevice(id, l, b, slot);
                    previous = slot;
                }
            }
        }
        finish();
    }

    /**
     * Declares the prompt this empty sequence is about to hold, so that the manager's sequences share its blocks:
     * the leading full blocks that another open sequence already holds under the same content keys (a hash chain
     * over the tokens, rooted in {@code namespace}: the same tokens after the same prefix, model and KV layout) are
     * attached: this sequence holds the same memory, and their positions are appended and placed, never written.
     * The prompt's other full blocks are published once written, for later sequences to find, if written before this
     * sequence first masked a token ({@link #rowsBeforeFirstMask}: the rows after were computed without it, so another
     * sequence would not compute the same keys and values for the same tokens). The caller then
     * appends and writes the prompt from the returned position on, exactly those tokens. The block of the prompt's
     * last token is never attached, so at least one token is left to compute.
     *
     * @param namespace the model and KV layout the keys are rooted in; its layout must be the manager's
     * @param prompt    the prompt's token ids; {@code prompt[0, length)} is declared
     * @return prompt tokens attached (whole blocks), where the caller's appends continue
     * @throws IllegalArgumentException for another layout than the manager's, or a bad length
     * @throws IllegalStateException    when the sequence is not empty
     */
    public int sharePrefix(PrefixNamespace namespace, int[] prompt, int length) {
        checkOpen();
        if (namespace == null || prompt == null) {
            throw new IllegalArgumentException("namespace and prompt must not be null");
        }
        if (!namespace.layout().equals(descriptor.layout())) {
            throw new IllegalArgumentException("the prefix namespace's KV layout " + namespace.layout() + " differs from the tier"
                    + " manager's " + descriptor.layout() + "; blocks are shared only within one layout");
        }
        if (length <= 0 || length > prompt.length) {
            throw new IllegalArgumentException("prompt length must be in [1, " + prompt.length + "], was " + length);
        }
        if (table.length() != 0) {
            throw new IllegalStateException("sharePrefix declares the prompt of an empty sequence; sequence " + id + " holds "
                    + table.length() + " tokens");
        }
        manager.reapCopies();
        prefixKeys = PrefixChain.hashes(namespace, prompt, length);
        int reusable = Math.min(prefixKeys.size(), (length - 1) / blockSize);
        int[][] found = new int[reusable][];
        int k = 0;
        while (k < reusable && (found[k] = manager.prefixes().find(prefixKeys.get(k))) != null) {
            k++;
        }
        if (k == 0) {
            return 0;
        }
        int count = k * blockSize;
        policy.append(count);
        blockMoves.clear();
        table.append(count, Level.NORMAL_CODE, blockMoves);
        foldLevels();
        ensureBlocks(k);
        for (int b = 0; b < k; b++) {
            for (int l = 0; l < layers; l++) {
                pool.retain(found[b][l]);
                handles[l][b] = found[b][l];
            }
        }
        placeWritten(k);
        for (int b = 0; b < k; b++) {
            for (int l = 0; l < layers; l++) {
                markDirty(l, b); // the memory may be on either tier, wherever this placement put the block
            }
        }
        sharedBlocks = k;
        finish();
        return count;
    }

    /** Leading prompt blocks (per layer) this sequence attached from others by {@link #sharePrefix}. */
    public int sharedPrefixBlocks() {
        return sharedBlocks;
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
        if (h == NO_HANDLE) {
            throw new IllegalStateException("position " + position + " of layer " + layer + " is in block " + b + ", which was freed");
        }
        if (pool.state(h) != BlockPool.DEVICE || b < placedBelow) {
            throw new IllegalStateException("position " + position + " of layer " + layer + " is in block " + b + ", which is "
                    + (b < placedBelow ? "written and placed" : BlockPool.stateName(pool.state(h)))
                    + "; only the blocks of the last append, on the device, are written");
        }
        return manager.deviceArena().address(pool.deviceSlot(h));
    }

    /**
     * The live blocks of {@code layer} by tier; see {@link LayerView} for how long it stays valid. Its lists are rebuilt
     * (O(blocks)) only when {@link #residencyVersion} changed since the last call; otherwise only its length moves on.
     */
    public LayerView view(int layer) {
        checkOpen();
        checkLayer(layer);
        LayerView v = views[layer];
        long version = residencyVersion(layer);
        if (viewVersions[layer] != version) {
            v.reset(table.length());
            int[] hs = handles[layer];
            for (int b = 0, n = table.blocks(); b < n; b++) {
                int h = hs[b];
                if (h == NO_HANDLE) {
                    continue;
                }
                byte s = pool.state(h);
                if (s == BlockPool.DEVICE || s == BlockPool.TO_HOST) {
                    v.addDevice(pool.deviceSlot(h), b);
                } else {
                    v.addHost(pool.hostSlot(h), b);
                }
            }
            viewVersions[layer] = version;
        } else {
            v.length(table.length());
        }
        return v;
    }

    /**
     * A count that grows whenever {@link #view}'s lists of the layer's blocks (which blocks, on which tier, in which slot) or
     * the layer's {@link #masked} tokens may have changed: a reader that keeps its own copy of a view rebuilds it only when
     * this moved. Between two equal readings only the tail block grew (opening a new block moves it). The count is the manager's: it also moves for changes to other sequences' blocks of the same layer, and
     * never repeats, so equal readings (of this sequence or of one that reused its id) mean nothing changed, unequal ones
     * only that something may have.
     */
    public long residencyVersion(int layer) {
        checkOpen();
        checkLayer(layer);
        return pool.layerVersion(layer);
    }

    /**
     * The share of {@link #residencyVersion} that tokens masked moved (of any sequence of the manager): when both moved by the
     * same amount between two readings, no block was opened, moved or freed in between, only tokens masked, and this
     * sequence's are the {@link #maskedToken}s after the {@link #maskedTokens} read then.
     */
    public long maskVersion(int layer) {
        checkOpen();
        checkLayer(layer);
        return pool.maskVersion(layer);
    }

    /**
     * One query's attention in one layer: the policy observes it, and its top-{@value TierDefaults#REQUEST_TOP_K}
     * keys are the blocks it requested.
     */
    public void observe(int layer, int queryPosition, float[] probs, int offset, int heads, int stride, int keys) {
        checkOpen();
        if (policy.observedTopK() == selected.length) {
            // The policy counts the same top-k the placement requests: select it once.
            int n = counter.selectTopK(probs, offset, heads, stride, keys, selected.length, selected);
            policy.observeSelected(layer, selected, n);
            if (prefillDone) {
                request(layer, selected, n);
            }
            return;
        }
        policy.observe(layer, queryPosition, probs, offset, heads, stride, keys);
        if (!prefillDone) {
            return;
        }
        int n = counter.selectTopK(probs, offset, heads, stride, keys, selected.length, selected);
        request(layer, selected, n);
    }

    /** One query's already selected top-k keys (a recorded trace's), ascending: the policy and placement see them. */
    public void observeSelected(int layer, int[] positions, int n) {
        checkOpen();
        policy.observeSelected(layer, positions, n);
        request(layer, positions, n);
    }

    private void request(int layer, int[] positions, int n) {
        placement.requestPositions(layer, positions, n, blockSize, moves);
    }

    /**
     * The prompt's own attention, before its blocks are appended: {@code counts[layer][block]} top-k positions of
     * the prompt's last queries (SnapKV's observation window) fell in each prompt block. It seeds the blocks'
     * values, so the placement keeps on the device the prompt blocks the prompt itself attends to.
     */
    public void prior(int[][] counts) {
        checkOpen();
        if (counts.length != layers) {
            throw new IllegalArgumentException("prior counts for " + counts.length + " layers, the sequence has " + layers);
        }
        for (int l = 0; l < layers; l++) {
            for (int b = 0; b < counts[l].length; b++) {
                placement.prior(l, b, counts[l][b], moves);
            }
        }
        priorCounts = counts;
        finish();
    }

    /** The counts given to {@link #prior}, or null (a trace recorder writes them as the trace's prefill record). */
    public int[][] priorCounts() {
        return priorCounts;
    }

    /**
     * Until {@link #endPrefill}, the host budget frees no block of this sequence ({@link Placement#holdHostBudget}): a
     * prefill that computes the prompt's rows through the tiers while they fill (the CUDA decoder's paper mode) then
     * attends every earlier token from every row, as a dense prefill does, and the budget applies from the prompt's end.
     * The host arena must hold the whole prompt meanwhile (a demotion that finds no host slot drops its block, as always).
     */
    public void holdHostBudgetUntilEndPrefill() {
        checkOpen();
        if (prefillDone) {
            throw new IllegalStateException("the prompt is complete: the host budget applies already");
        }
        hostBudgetHeld = true;
        placement.holdHostBudget();
    }

    /** The prompt is complete: runs the policy's end of prefill and places the prompt's written blocks. */
    public void endPrefill() {
        checkOpen();
        manager.reapCopies();
        tokenMoves.clear();
        policy.endPrefill(tokenMoves);
        applyTokenMoves();
        prefillDone = true;
        placeWritten(table.tailBlock());
        if (hostBudgetHeld) {
            hostBudgetHeld = false;
            placement.releaseHostBudget(moves);
        }
        finish();
        manager.sample(this);
    }

    /** One generated token: runs the policy's step and carries out its decisions. */
    public void step() {
        checkOpen();
        manager.reapCopies();
        placeWritten(table.tailBlock());
        tokenMoves.clear();
        policy.step(tokenMoves);
        steps++;
        applyTokenMoves();
        placement.step();
        finish();
        manager.sample(this);
    }

    /** Places the written blocks below {@code below} that are not placed yet, block by block, layer by layer. */
    private void placeWritten(int below) {
        for (int b = placedBelow; b < below; b++) {
            for (int l = 0; l < layers; l++) {
                placement.admit(l, b, table.level(l, b), moves);
            }
            publish(b);
        }
        placedBelow = Math.max(placedBelow, below);
    }

    /** A written full block of the declared prompt becomes findable by its content key (every layer still held). */
    private void publish(int block) {
        if (block >= prefixKeys.size() || (block + 1) * blockSize > rowsBeforeFirstMask) {
            return;
        }
        int[] hs = new int[layers];
        for (int l = 0; l < layers; l++) {
            hs[l] = handles[l][block];
            if (hs[l] == NO_HANDLE) {
                return;
            }
        }
        manager.prefixes().publish(prefixKeys.get(block), hs);
    }

    /** Folds the policy's token transitions into block levels and masks; tells the placement. */
    private void applyTokenMoves() {
        if (tokenMoves.isEmpty()) {
            return;
        }
        boolean drop = policy.tierMode() == TierMode.DROP;
        for (int i = 0; i < tokenMoves.size(); i++) {
            if (drop && tokenMoves.to(i) == Level.EVICT_CODE) {
                mask(tokenMoves.layer(i), tokenMoves.index(i));
            }
        }
        blockMoves.clear();
        table.apply(tokenMoves, blockMoves);
        foldLevels();
    }

    private void foldLevels() {
        for (int i = 0; i < blockMoves.size(); i++) {
            placement.level(blockMoves.layer(i), blockMoves.index(i), blockMoves.to(i), moves);
        }
        blockMoves.clear();
    }

    /** Carries out the placement's moves and retries blocks whose bytes lag behind; then flushes the copies. */
    private void finish() {
        do {
            for (int i = 0; i < moves.size(); i++) {
                int l = moves.layer(i);
                int b = moves.block(i);
                switch (moves.kind(i)) {
                    case Moves.ADMIT_DEVICE -> {
                    }
                    case Moves.FREE -> free(l, b);
                    default -> markDirty(l, b);
                }
            }
            moves.clear();
            if (!followDirty()) {
                // A block must move again before its last copy landed, or a promotion waits for its victim's slot: wait for
                // the copies, then start the rest.
                manager.awaitCopiesInternal();
                followDirty();
            }
        } while (!moves.isEmpty()); // a promotion that found no device slot may have freed a host block
        manager.flushCopies();
        manager.debugCheck();
    }

    /**
     * Starts the copies of dirty blocks, demotions before promotions: a promotion's device slot is the one its victim's
     * demotion frees, so the victim's copy is under way before the promotion asks for a slot (a promotion that finds the
     * sequence at its slot budget with no copy pending gives up). True when none is left waiting for a copy in flight.
     */
    private boolean followDirty() {
        if (promotions.length < dirtyCount) {
            promotions = new int[dirty.length];
        }
        int kept = 0;
        int deferred = 0;
        for (int i = 0; i < dirtyCount; i++) {
            int key = dirty[i];
            if (promoting(key % layers, key / layers)) {
                promotions[deferred++] = key;
            } else if (!follow(key % layers, key / layers)) {
                dirty[kept++] = key;
            }
        }
        for (int i = 0; i < deferred; i++) {
            int key = promotions[i];
            if (!follow(key % layers, key / layers)) {
                dirty[kept++] = key;
            }
        }
        dirtyCount = kept;
        return kept == 0;
    }

    /** Whether following this block would copy it from the host tier to the device tier. */
    private boolean promoting(int layer, int block) {
        int h = handles[layer][block];
        if (h == NO_HANDLE || pool.state(h) != BlockPool.HOST) {
            return false;
        }
        byte want = pool.refs(h) > 1 ? manager.sharedWant(h, layer, block) : placement.where(layer, block);
        return want == Placement.DEVICE;
    }

    private void markDirty(int layer, int block) {
        if (dirtyCount == dirty.length) {
            dirty = Arrays.copyOf(dirty, dirtyCount * 2);
        }
        dirty[dirtyCount++] = block * layers + layer;
    }

    /**
     * Starts the copy that brings a block's bytes where the placement wants them; true when nothing is left to
     * do, false while a copy is still in flight (retried at the next operation).
     */
    private boolean follow(int layer, int block) {
        int h = handles[layer][block];
        byte own = placement.where(layer, block);
        if (h == NO_HANDLE || own == Placement.FREED) {
            return true;
        }
        boolean shared = pool.refs(h) > 1;
        byte want = shared ? manager.sharedWant(h, layer, block) : own;
        byte state = pool.state(h);
        if (state == BlockPool.TO_HOST || state == BlockPool.TO_DEVICE) {
            return false;
        }
        if (want == Placement.HOST && state == BlockPool.DEVICE) {
            int slot = manager.hostSlot();
            if (slot == SlotArena.NO_SLOT) {
                placement.lost(layer, block);
                drop(layer, block); // a shared block: only this holder lets go; the others retry, and drop in turn
                return true;
            }
            manager.startCopy(h, CopyDirection.DEVICE_TO_HOST, slot);
        } else if (want == Placement.DEVICE && state == BlockPool.HOST) {
            int slot = manager.deviceSlot(this);
            if (slot == SlotArena.NO_SLOT && manager.copiesPending()) {
                // The device slot this promotion is owed is the one its victim's demotion frees when it lands: wait for it
                // (finish() drains the copies and follows again) instead of giving the promotion up with the victim gone.
                return false;
            }
            if (slot == SlotArena.NO_SLOT) {
                if (own == Placement.DEVICE) {
                    placement.stayOnHost(layer, block, moves);
                }
                if (shared) {
                    manager.retryDeviceHolders(h, layer, block, this);
                    manager.reown(h, layer, block);
                }
                return true;
            }
            manager.startCopy(h, CopyDirection.HOST_TO_DEVICE, slot);
        }
        if (shared) {
            manager.reown(h, layer, block);
        }
        return true;
    }

    /** Releases a block the placement freed (evicted tokens in drop mode, or past the host budget). */
    private void free(int layer, int block) {
        int h = handles[layer][block];
        if (h != NO_HANDLE) {
            if (freeListener != null) {
                freeListener.beforeFree(this, layer, block);
            }
            handles[layer][block] = NO_HANDLE;
            boolean freed = manager.release(h, layer, block); // false: other sequences still hold the shared block
            if (table.level(layer, block) == Level.EVICT_CODE && policy.tierMode() == TierMode.DROP) {
                manager.counters().evictedBlocks += freed ? 1 : 0;
            } else {
                droppedBlocks++;
                manager.counters().droppedBlocks += freed ? 1 : 0;
            }
        }
        maskBlock(layer, block);
    }

    /** Frees a block whose demotion found no host slot in the shared arena. */
    private void drop(int layer, int block) {
        if (freeListener != null) {
            freeListener.beforeFree(this, layer, block);
        }
        int h = handles[layer][block];
        handles[layer][block] = NO_HANDLE;
        droppedBlocks++;
        manager.counters().droppedBlocks += manager.release(h, layer, block) ? 1 : 0;
        maskBlock(layer, block);
    }

    private void maskBlock(int layer, int block) {
        int from = block * blockSize;
        for (int t = from, end = Math.min(from + blockSize, table.length()); t < end; t++) {
            mask(layer, t);
        }
    }

    private void mask(int layer, int token) {
        if (masks.mask(layer, token)) {
            pool.masked(layer);
            if (rowsBeforeFirstMask == Integer.MAX_VALUE) {
                rowsBeforeFirstMask = appendFrom >= 0 ? appendFrom : table.length();
            }
        }
    }

    /**
     * How many of the first tokens were written before any token of this sequence was masked (its block freed, or the
     * policy evicting it), {@code Integer.MAX_VALUE} while none was: a model that computes each token's keys and values as
     * it appends it (decode, chunked prefill) attended every earlier token for these, and fewer for the rest. A shared
     * store of keys and values by token content (the remote tier) may hold only the first kind.
     */
    public int rowsBeforeFirstMask() {
        return rowsBeforeFirstMask;
    }

    /**
     * True when the token's KV must not be attended: its block was freed, or (drop mode) the policy evicted it.
     * O(1): kept up to date from transitions.
     */
    public boolean masked(int layer, int token) {
        return masks.masked(layer, token);
    }

    /** How many tokens of a layer are {@link #masked}; O(1). */
    public int maskedTokens(int layer) {
        checkOpen();
        checkLayer(layer);
        return masks.count(layer);
    }

    /**
     * The {@code i}-th token of a layer to be {@link #masked}, in the order they were, {@code i < maskedTokens(layer)}: a reader
     * that saw the first {@code n} reads only those after them. O(1).
     */
    public int maskedToken(int layer, int i) {
        checkOpen();
        checkLayer(layer);
        return masks.token(layer, i);
    }

    /** How many tokens of one block of a layer are {@link #masked}; O(1). 0 for a block past the sequence. */
    public int maskedRows(int layer, int block) {
        return masks.inBlock(layer, block);
    }

    /**
     * The level of one token: the policy's, except that tokens of a freed block read as EVICT (their keys and
     * values are gone).
     */
    public byte level(int layer, int token) {
        checkLayer(layer);
        byte level = policy.level(layer, token);
        return placement.where(layer, token / blockSize) == Placement.FREED ? Level.EVICT_CODE : level;
    }

    /** Tokens whose KV is kept (not masked), mean over layers; O(layers). */
    public int keptTokens() {
        long kept = 0;
        for (int l = 0; l < layers; l++) {
            kept += table.length() - masks.count(l);
        }
        return (int) Math.round((double) kept / layers);
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

    /** Blocks freed for lack of host room (host budget or shared arena). */
    public int droppedBlocks() {
        return droppedBlocks;
    }

    /**
     * Where readers find a block now: DEVICE (also while it is being demoted), HOST (also while being
     * promoted), or NONE when it was freed.
     */
    public Tier tier(int layer, int block) {
        checkLayer(layer);
        if (block < 0 || block >= table.blocks()) {
            throw new IndexOutOfBoundsException("block " + block + " outside [0, " + table.blocks() + ")");
        }
        int h = handles[layer][block];
        if (h == NO_HANDLE) {
            return Tier.NONE;
        }
        byte s = pool.state(h);
        return s == BlockPool.DEVICE || s == BlockPool.TO_HOST ? Tier.DEVICE : Tier.HOST;
    }

    /** True while the block's copy is in flight. */
    public boolean inFlight(int layer, int block) {
        int h = handles[layer][block];
        return h != NO_HANDLE && (pool.state(h) == BlockPool.TO_HOST || pool.state(h) == BlockPool.TO_DEVICE);
    }

    /** The slot readers use for a block (in the tier {@link #tier} names), or -1 when it is gone. */
    public int slot(int layer, int block) {
        Tier t = tier(layer, block);
        int h = handles[layer][block];
        return t == Tier.NONE ? -1 : t == Tier.DEVICE ? pool.deviceSlot(h) : pool.hostSlot(h);
    }

    /**
     * Re-checks this sequence against its block table, its placement and the pool: every handle names this
     * block, a freed block has no memory, a block with no copy pending is where the placement wants it, the
     * last block of each layer is on the device.
     */
    public void checkInvariants() {
        checkOpen();
        table.checkInvariants();
        placement.checkInvariants();
        int tail = table.blocks() - 1;
        for (int l = 0; l < layers; l++) {
            for (int b = 0; b < table.blocks(); b++) {
                int h = handles[l][b];
                byte want = placement.where(l, b);
                if (h != NO_HANDLE) {
                    boolean shared = pool.refs(h) > 1;
                    if ((!shared && pool.sequenceOf(h) != id) || pool.layerOf(h) != l || pool.blockOf(h) != b || pool.isReleased(h)
                            || pool.state(h) == BlockPool.FREE) {
                        throw new IllegalStateException("sequence " + id + " layer " + l + " block " + b + ": handle " + h + " belongs elsewhere");
                    }
                    if (want == Placement.FREED) {
                        throw new IllegalStateException("sequence " + id + " layer " + l + " block " + b + " is freed but holds memory");
                    }
                    byte s = pool.state(h);
                    byte target = shared ? manager.sharedWant(h, l, b) : want;
                    boolean settledWrong = (target == Placement.DEVICE && s == BlockPool.HOST)
                            || (target == Placement.HOST && s == BlockPool.DEVICE);
                    boolean pending = shared ? manager.pendingInSomeHolder(h, l, b) : isDirty(l, b);
                    if (settledWrong && !pending) {
                        throw new IllegalStateException("sequence " + id + " layer " + l + " block " + b + " is "
                                + BlockPool.stateName(s) + " but placed " + want + " and not pending");
                    }
                } else if (b < placedBelow && want != Placement.FREED) {
                    throw new IllegalStateException("sequence " + id + " layer " + l + " block " + b + " has no memory but is placed " + want);
                }
                if (b == tail && b >= placedBelow && h != NO_HANDLE && pool.state(h) != BlockPool.DEVICE) {
                    throw new IllegalStateException("sequence " + id + " layer " + l + ": tail block " + b + " is " + BlockPool.stateName(pool.state(h)));
                }
            }
        }
    }

    private boolean isDirty(int layer, int block) {
        int key = block * layers + layer;
        for (int i = 0; i < dirtyCount; i++) {
            if (dirty[i] == key) {
                return true;
            }
        }
        return false;
    }

    /**
     * True if the blocks committed to the device are within the budget: always after {@code endPrefill} and every
     * {@code step}, and after an append whose blocks fit the budget; not while a prompt appended in one call whose blocks
     * alone exceed it is being written.
     */
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

    /** Releases every handle (called by the manager once no copy is in flight); shared blocks stay with their other holders. */
    void releaseAll() {
        for (int l = 0; l < layers; l++) {
            for (int b = 0, n = table.blocks(); b < n; b++) {
                int h = handles[l][b];
                handles[l][b] = NO_HANDLE;
                if (h != NO_HANDLE) {
                    manager.release(h, l, b);
                }
            }
        }
    }

    /** Whether this sequence holds handle {@code h} as block {@code block} of {@code layer}. */
    boolean holds(int layer, int block, int h) {
        return block < table.blocks() && handles[layer][block] == h;
    }

    /** Adds one to {@code holders[h]} for every handle this sequence holds (the manager's invariant check). */
    void countHandles(int[] holders) {
        for (int l = 0; l < layers; l++) {
            for (int b = 0, n = table.blocks(); b < n; b++) {
                if (handles[l][b] != NO_HANDLE) {
                    holders[handles[l][b]]++;
                }
            }
        }
    }

    /** Whether the block will be followed at this sequence's next operation (its bytes may lag its placement). */
    boolean isPending(int layer, int block) {
        return isDirty(layer, block);
    }

    /** A copy of this block failed: its bytes stayed where they were; the copy is retried at the next operation. */
    void retry(int layer, int block) {
        markDirty(layer, block);
    }

    /** Moves up to {@code count} of this sequence's placed device blocks to the host for another's append. */
    int shed(int count) {
        int moved = placement.shed(count, moves);
        finish();
        return moved;
    }

    /**
     * Placed device blocks that {@link #shed} could move; a shared block another holder is charged for is that
     * holder's to count.
     */
    int sheddable() {
        int n = placement.deviceBlocks();
        if (pool.sharedHandles() == 0) {
            return n;
        }
        for (int b = 0; b < placedBelow; b++) {
            for (int l = 0; l < layers; l++) {
                int h = handles[l][b];
                if (h != NO_HANDLE && pool.refs(h) > 1 && pool.sequenceOf(h) != id && placement.where(l, b) == Placement.DEVICE) {
                    n--;
                }
            }
        }
        return n;
    }

    boolean isClosed() {
        return closed;
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
        if (n > handles[0].length) {
            int capacity = Math.max(n, handles[0].length * 2);
            for (int l = 0; l < layers; l++) {
                int old = handles[l].length;
                handles[l] = Arrays.copyOf(handles[l], capacity);
                Arrays.fill(handles[l], old, capacity, NO_HANDLE);
            }
        }
        masks.ensureBlocks(n);
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

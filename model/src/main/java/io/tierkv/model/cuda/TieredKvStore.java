package io.tierkv.model.cuda;

import io.tierkv.core.KvLayout;
import io.tierkv.core.placement.TierMode;
import io.tierkv.core.policy.KvPolicy;
import io.tierkv.core.policy.PolicyContext;
import io.tierkv.cuda.driver.Backend;
import io.tierkv.cuda.ops.PagedKvShape;
import io.tierkv.cuda.ops.PagedPart;
import io.tierkv.model.generate.HostRead;
import io.tierkv.model.generate.HostReadStats;
import io.tierkv.model.generate.PromptRows;
import io.tierkv.model.generate.RemotePrefill;
import io.tierkv.tiering.LayerView;
import io.tierkv.tiering.Sequence;
import io.tierkv.tiering.TierConfig;
import io.tierkv.tiering.TierDefaults;
import io.tierkv.tiering.TierManager;
import io.tierkv.tiering.remote.RemotePrefix;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.IntBuffer;
import java.util.Arrays;
import java.util.function.Supplier;

/**
 * K and V in tiering's tiers, through the public {@link TierManager} / {@link Sequence} API: the new token's K and V are
 * written to the device tail slot ({@link Sequence#keyAddress}), and each layer attends two parts with the same paged
 * kernel, the device-tier blocks in the device slab and the host-tier blocks in the host slab (pinned memory mapped into
 * the device's address space on CUDA, read over PCIe in place; or, with {@link HostAttention#CPU}, attended on the CPU from
 * the same slab by {@link CpuHostPart}), merged exactly by log-sum-exp. The sequence runs the
 * store's policy: under {@code full} the placement rule alone moves blocks between the tiers (demotions past the device
 * budget, on the copy engine); a policy that counts only its top-k ({@code hierarchical}) gets, per decode step, each
 * layer's top-k positions selected on the device ({@link #observe}), and its windows and the placement move blocks; one
 * that reads more of the row ({@code h2o}'s probability mass) gets the rows' used columns copied back, as on the CPU.
 *
 * <p>Per token, after {@link Sequence#append}, the block tables ({@link BlockTables}: per layer a device part and a host
 * part) are built from the views on the host and what changed goes up in one copy (once per prefill chunk); a view stays valid until
 * the next append or step, so residency does not change while the step's kernels run. A layer whose
 * {@link Sequence#residencyVersion} did not move keeps its tables, the tail block's valid rows updated: most tokens
 * rebuild no layer's lists (new blocks open every {@code blockSize} tokens, the placement moves blocks at windows). One
 * where only tokens were masked ({@link Sequence#maskVersion} moved as much: a streaming window, H2O's drops) marks their
 * rows in the entries it keeps.
 *
 * <p>No CUDA event orders the decoder's stream against the tiers' copy streams; the host does. A step's kernels read only
 * where a view lists a block: a block being demoted at its device slot, one being promoted at its host slot, until the copy
 * is reaped (its end event synchronised on the host); only the blocks of the last append are written (the tail block, or a
 * prefill chunk's), and they stay on the device, unplaced, until the next append. Copies start, and
 * reaped slots are reused, only between a step's synchronising read back (the top-k, the token) and the next step's first
 * kernel ({@link #append}, {@link #step}, {@link #endPrefill}, the policy's observation), so the decoder's stream is idle
 * then. Whoever pipelines
 * steps (queues step t + 1 before reading step t's token) must replace that with events: the copy streams waiting on an
 * event recorded after each step, the decoder's stream on the copies' end events. The remote tier's block copies
 * ({@link #loadRemote}, and the offers and spills of {@link RemotePrefill}) go through the slabs' synchronous accessors on
 * their own stream at those same points, while the decoder's stream is idle; a loaded block's digests are waited for
 * before the next append may start its demotion.
 *
 * <p>With {@link HostRead#digest()} ({@code --host-read digest}) a decode step attends only the host blocks (or KV-head
 * slices) whose digests score the query highest ({@link HostSelection}); prefill reads every host block.
 */
final class TieredKvStore implements CapturableKvStore {
    private final StepDevice device;
    private final PagedKvShape shape;
    private final int layers;
    private final int maxBlocks;
    private final int deviceBudgetBlocks;
    private final int maxTokens;
    private final TierManager tiers;
    private final BlockTables tables;   // [layers][device, host] block lists, rebuilt when residency changed
    private final long[] builtVersions; // [layers] the sequence's residency version the layer's tables were built at; -1: none
    private final long[] builtMaskVersions; // [layers] ... and its mask version ({@link Sequence#maskVersion})
    private final int[] builtMasked;    // [layers] the sequence's masked tokens marked in the layer's tables
    private final int[][] entries;      // [layers][block] the block's entry in the tables: index << 1 | part; -1: not listed
    private long layerBuilds;           // layers whose tables were rebuilt from their views, since the store opened
    private long maskUpdates;           // layers whose tables had only newly masked rows marked, since the store opened
    private final Supplier<KvPolicy> policies;
    private final boolean observing;    // the policy reads attention while decoding
    private final boolean wholeRows;    // ... more than its top-k (observedTopK 0: h2o's mass, a trace recorder's own k)
    private final int topK;             // keys selected per layer and step
    private final int stride;           // probability row length: maxTokens
    private long waitNanos;             // spent in observe()'s synchronising read backs since takeWaitNanos()
    private final long probs;           // device fp32 [layers][heads][stride], its first keys zeroed per observed step or prompt row
    private final long selected;        // device i32 [layers][topK] positions, then i32 [layers] counts (then the digest counts)
    private final boolean sharedCounts; // the per-head digest choices' counts follow the top-k in {@link #selected}
    private final ByteBuffer selectedHost;
    private final long priorTop;        // device i32 [layers][k] a prior row's top-k positions, then i32 [layers] counts
    private final ByteBuffer priorTopHost;
    private final int[] priorPositions = new int[PromptRows.topK()];
    private final int[] positions;
    private Sequence seq;
    private int loadedTokens;           // the prompt's leading tokens loaded from a remote tier ({@link #loadRemote}); prefill follows
    private int chunkBlocks;            // blocks one prefill chunk may span: the sequence's device blocks per layer less one
    private boolean prefillDone;
    private boolean observeNow;         // this step's attention goes to the policy
    private boolean rowNow;             // this prefill step is one of the prompt rows the policy or the placement reads
    private PromptRows prompt;          // the prompt being prefilled and the rows of it read ({@link #beginPrefill}), or null
    private float[] rowProbs;           // host copy of probs for a prompt row, allocated at the first one
    private ByteBuffer rowProbsHost;
    private final int[][] lastSelected;
    private final HostRead hostRead;    // EXACT or digest
    private HostReadStats readStats;   // since the store opened, or since the last reset(context, ...)
    private final HostSelection selection; // the digest mode's state and choice; null in exact mode
    private final HostAttention hostAttention;
    private final CpuHostPart cpuPart;  // HostAttention.CPU: the host part attended on the CPU; else null

    private TieredKvStore(StepDevice device, PagedKvShape shape, int layers, int maxTokens, TierManager tiers, int deviceBudgetBlocks,
                          Supplier<KvPolicy> policies, HostRead hostRead, HostAttention hostAttention) {
        this.device = device;
        this.shape = shape;
        this.layers = layers;
        this.maxTokens = maxTokens;
        this.tiers = tiers;
        this.deviceBudgetBlocks = deviceBudgetBlocks;
        this.maxBlocks = KvBlockTable.blocksFor(maxTokens, shape.blockSize());
        this.tables = new BlockTables(device, layers, maxBlocks, shape.blockSize(), shape.kvHeads());
        this.builtVersions = new long[layers];
        this.builtMaskVersions = new long[layers];
        this.builtMasked = new int[layers];
        this.entries = new int[layers][maxBlocks];
        this.policies = policies;
        KvPolicy probe = policies.get();
        this.observing = probe.observesAttention();
        this.wholeRows = observing && probe.observedTopK() == 0;
        this.topK = probe.observedTopK() > 0 ? probe.observedTopK() : TierDefaults.REQUEST_TOP_K;
        this.stride = maxTokens;
        this.probs = device.alloc(4L * layers * shape.heads() * stride);
        // the per-head digest choices' counts right after the top-k, so that an observed step reads both back at once
        this.sharedCounts = observing && !wholeRows && hostRead.digest() && hostRead.perHead();
        int selectedBytes = 4 * layers * (topK + 1) + (sharedCounts ? 8 * layers : 0);
        this.selected = observing && !wholeRows ? device.alloc(selectedBytes) : 0;
        this.selectedHost = ByteBuffer.allocate(selectedBytes).order(ByteOrder.LITTLE_ENDIAN);
        this.priorTopHost = ByteBuffer.allocate(4 * layers * (PromptRows.topK() + 1)).order(ByteOrder.LITTLE_ENDIAN);
        this.priorTop = device.alloc(priorTopHost.capacity());
        this.positions = new int[topK];
        this.lastSelected = new int[layers][0];
        this.hostRead = hostRead;
        this.readStats = new HostReadStats(layers);
        this.selection = hostRead.digest() ? new HostSelection(device, shape, layers, maxBlocks, hostRead,
                sharedCounts ? selected + 4L * layers * (topK + 1) : 0) : null;
        this.hostAttention = hostAttention;
        this.cpuPart = hostAttention == HostAttention.CPU ? new CpuHostPart(device, shape, tiers.hostBaseAddress(),
                (long) tiers.hostCapacityBlocks() * shape.slotBytes(), maxTokens) : null;
        this.seq = openSequence();
    }

    /** Opens the tiers ({@code backend}: CUDA on a GPU; CPU with the host device, whose kernels then read the arenas in place). */
    static TieredKvStore open(StepDevice device, PagedKvShape dense, int layers, int maxTokens, Backend backend, int deviceBlocksPerLayer,
                              Supplier<KvPolicy> policies) {
        return open(device, dense, layers, maxTokens, backend, deviceBlocksPerLayer, policies, HostRead.EXACT);
    }

    /** As above, reading the host tier as {@code hostRead} says at decode steps, attended where {@link HostAttention#configured()} says. */
    static TieredKvStore open(StepDevice device, PagedKvShape dense, int layers, int maxTokens, Backend backend, int deviceBlocksPerLayer,
                              Supplier<KvPolicy> policies, HostRead hostRead) {
        return open(device, dense, layers, maxTokens, backend, deviceBlocksPerLayer, policies, hostRead, HostAttention.configured());
    }

    /** As above, the host tier's blocks attended as {@code hostAttention} says. */
    static TieredKvStore open(StepDevice device, PagedKvShape dense, int layers, int maxTokens, Backend backend, int deviceBlocksPerLayer,
                              Supplier<KvPolicy> policies, HostRead hostRead, HostAttention hostAttention) {
        hostRead = hostRead.forCuda(); // options the kernels lack: refused
        if (hostRead.digest()) { // its checks (head dim a multiple of 8, parts dividing the block), before any device work
            HostSelection.digestShape(dense, hostRead);
        }
        long rowBytes = 4L * layers * dense.heads() * maxTokens; // a step's attention rows, read back whole (prompt rows, H2O)
        if (rowBytes > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("a tiered store reads back attention rows of " + layers + " layers x " + dense.heads()
                    + " heads x " + maxTokens + " tokens (" + rowBytes + " bytes), over the 2 GiB a Java buffer holds: lower maxTokens");
        }
        KvLayout layout = new KvLayout(layers, dense.kvHeads(), dense.headDim(), dense.dtype(), dense.blockSize());
        int deviceBlocks = Math.multiplyExact(layers, deviceBlocksPerLayer);
        int hostBlocks = Math.multiplyExact(layers, KvBlockTable.blocksFor(maxTokens, dense.blockSize()) + 2);
        TierConfig config = backend == Backend.CPU ? TierConfig.cpu(layout, deviceBlocks, hostBlocks)
                : TierConfig.builder(layout).backend(backend).deviceCapacityBlocks(deviceBlocks).hostCapacityBlocks(hostBlocks).build();
        TierManager tiers = TierManager.create(config);
        try {
            PagedKvShape shape = new PagedKvShape(dense.dtype(), dense.heads(), dense.kvHeads(), dense.headDim(), dense.blockSize(),
                    tiers.slotBytes());
            device.external(tiers.deviceBaseAddress(), tiers.slotBytes() * tiers.deviceCapacityBlocks());
            device.external(tiers.hostBaseAddress(), tiers.slotBytes() * tiers.hostCapacityBlocks());
            return new TieredKvStore(device, shape, layers, maxTokens, tiers, deviceBlocks, policies, hostRead, hostAttention);
        } catch (RuntimeException | Error e) {
            tiers.close();
            throw e;
        }
    }

    private Sequence openSequence() {
        return openSequence(PolicyContext.unbounded(layers, maxTokens), deviceBudgetBlocks, Integer.MAX_VALUE);
    }

    private Sequence openSequence(PolicyContext context, int deviceBlocks, int hostBlocks) {
        prefillDone = false;
        prompt = null;
        loadedTokens = 0;
        chunkBlocks = Math.max(1, deviceBlocks / layers - 1); // the placement keeps one written block per layer on the device
        Arrays.fill(builtVersions, -1);
        Arrays.fill(builtMaskVersions, 0);
        Arrays.fill(builtMasked, 0);
        for (int[] e : entries) {
            Arrays.fill(e, -1);
        }
        if (selection != null) {
            selection.reset();
        }
        return tiers.open(policies.get(), context, deviceBlocks, hostBlocks);
    }

    /**
     * Forgets the sequence and opens the next one with its own policy context and budgets ({@link TierManager#open}); the
     * device budget may not exceed the arena's blocks. The host-read counts restart.
     */
    void reset(PolicyContext context, int deviceBlocks, int hostBlocks) {
        if (context.layers() != layers) {
            throw new IllegalArgumentException("the policy context has " + context.layers() + " layers, the model " + layers);
        }
        if (deviceBlocks < layers || deviceBlocks > deviceBudgetBlocks) {
            throw new IllegalArgumentException("a device budget of " + deviceBlocks + " blocks is outside [" + layers + ", "
                    + deviceBudgetBlocks + "] (one tail block per layer, at most the arena this decoder was loaded with)");
        }
        seq.close();
        seq = null;
        seq = openSequence(context, deviceBlocks, hostBlocks);
        readStats = new HostReadStats(layers);
    }

    /** The current sequence. */
    Sequence sequence() {
        return seq;
    }

    @Override
    public PagedKvShape shape() {
        return shape;
    }

    @Override
    public int append() {
        return append(1);
    }

    /**
     * The tokens are admitted in one {@link Sequence#append}: the blocks they span are opened on the device and stay there,
     * unplaced, until the next append (so that the chunk's rows are written where its attention reads them); in one block,
     * that is what appending them one by one does. The block tables are filled and uploaded once, after the last: they are
     * sized for the whole sequence, so a chunk of 64 rows uploaded them 64 times.
     */
    @Override
    public int append(int n) {
        if (n < 1) {
            throw new IllegalArgumentException("append needs at least one token, was " + n);
        }
        int position = seq.length();
        seq.append(n);
        int last = position + n - 1;
        int tail = last / shape.blockSize();
        int tailRows = last + 1 - tail * shape.blockSize();
        for (int l = 0; l < layers; l++) {
            long version = seq.residencyVersion(l);
            long maskVersion = seq.maskVersion(l);
            if (version == builtVersions[l]) { // no block opened, moved, freed or masked: only the tail block grew
                keepTables(l, tail, tailRows);
                continue;
            }
            boolean onlyMasks = builtVersions[l] >= 0 && version - builtVersions[l] == maskVersion - builtMaskVersions[l];
            if (onlyMasks && markMasked(l, tail, tailRows)) { // a streaming window, H2O's drops: the rows marked in place
                builtVersions[l] = version;
                builtMaskVersions[l] = maskVersion;
                maskUpdates++;
                continue;
            }
            LayerView view = seq.view(l);
            for (int b = 0, blocks = seq.blocks(); b < blocks; b++) {
                entries[l][b] = -1;
            }
            fill(l, BlockTables.DEVICE, view, view.deviceCount(), true);
            fill(l, BlockTables.HOST, view, view.hostCount(), false);
            builtVersions[l] = version;
            builtMaskVersions[l] = maskVersion;
            builtMasked[l] = seq.maskedTokens(l);
            layerBuilds++;
        }
        tables.upload();
        if (selection != null) {
            selection.upload();
        }
        observeNow = observing && prefillDone;
        rowNow = !prefillDone && prompt != null && prompt.reads(last);
        if (observeNow || rowNow) { // the keys so far of every row: the rows are sized for maxTokens, read up to the length
            device.fillRows(probs, 4L * stride, 4L * seq.length(), layers * shape.heads(), (byte) 0);
        }
        return position;
    }

    /** Layer l's tables as they were built, the tail block grown to {@code tailRows}; a host part a sparse read compacted, rebuilt. */
    private void keepTables(int l, int tail, int tailRows) {
        tables.tailRows(l, tail, tailRows);
        tables.reuse(l, BlockTables.DEVICE);
        if (!tables.reuse(l, BlockTables.HOST)) { // a sparse read compacted it
            LayerView view = seq.view(l);
            fill(l, BlockTables.HOST, view, view.hostCount(), false);
        }
    }

    /**
     * Layer l's tables kept ({@link #keepTables}), with the rows of the tokens masked since they were built marked evicted in
     * their entries: O(tokens masked), not O(blocks). False, and nothing changed, when such a token lies in a block the tables
     * do not list (the caller rebuilds them).
     */
    private boolean markMasked(int l, int tail, int tailRows) {
        int from = builtMasked[l];
        int to = seq.maskedTokens(l);
        int bs = shape.blockSize();
        for (int i = from; i < to; i++) {
            if (entries[l][seq.maskedToken(l, i) / bs] < 0) {
                return false;
            }
        }
        boolean hostKept = !tables.compacted(l);
        keepTables(l, tail, tailRows); // rebuilds the host part, masks and all, when a sparse read compacted it
        for (int i = from; i < to; i++) {
            int position = seq.maskedToken(l, i);
            int entry = entries[l][position / bs];
            int part = entry & 1;
            if (part == BlockTables.DEVICE || hostKept) {
                tables.evicted(l, part, entry >>> 1, position % bs);
            }
        }
        builtMasked[l] = to;
        return true;
    }

    /** Lists the view's blocks of one tier, with their evicted rows, as layer l's part. */
    private void fill(int l, int part, LayerView view, int n, boolean deviceTier) {
        int bs = shape.blockSize();
        tables.clear(l, part);
        for (int i = 0; i < n; i++) {
            int block = deviceTier ? view.deviceBlock(i) : view.hostBlock(i);
            int rows = view.rows(block);
            entries[l][block] = tables.add(l, part, deviceTier ? view.deviceSlot(i) : view.hostSlot(i), rows, block) << 1 | part;
            if (!deviceTier && selection != null) {
                selection.listed(l, i, block);
            }
            if (seq.maskedRows(l, block) > 0) { // O(1) per block: no row is evicted in most blocks (in tier mode, none)
                for (int r = 0; r < rows; r++) {
                    if (seq.masked(l, block * bs + r)) {
                        tables.evicted(l, part, i, r);
                    }
                }
            }
        }
    }

    /**
     * The last appended rows (a token, or a chunk: {@link #chunkRows}), in the blocks of that append, on the device: one launch
     * per block, and each block's digest when they fill it.
     */
    @Override
    public void writeRows(int l, int first, int n, long k, long v) {
        if (n < 1 || first < 0 || first + n != seq.length()) {
            throw new IllegalArgumentException("rows " + first + " .. " + (first + n - 1) + " are not the last of the " + seq.length()
                    + " tokens");
        }
        long rowBytes = (long) shape.kvHeads() * shape.headDim() * Float.BYTES; // k and v: fp32 rows [n][kvHeads][headDim]
        int bs = shape.blockSize();
        for (int p = first; p < first + n; ) {
            int rows = Math.min(first + n - p, bs - p % bs);
            device.appendRows(shape, slot(l, p), 1, 0, p % bs, rows, k + (p - first) * rowBytes, v + (p - first) * rowBytes);
            written(l, p + rows - 1);
            p += rows;
        }
    }

    @Override
    public long slot(int l, int position) {
        return seq.keyAddress(l, position) - tiers.descriptor().keyOffset(position % shape.blockSize());
    }

    @Override
    public void written(int l, int position) {
        if (selection != null && position % shape.blockSize() == shape.blockSize() - 1) { // the block is full: its digest
            selection.filled(l, position / shape.blockSize(), slot(l, position), tiers);
        }
    }

    @Override
    public void attend(int l, long q, float scale, long out, long lse) {
        if (selection != null && prefillDone) { // only the chosen host blocks are read, and counted
            if (tables.count(l, BlockTables.HOST) > 0) {
                selection.select(l, q, scale, tables, tiers, readStats);
            } else {
                selection.nothingToRead(l);
            }
        }
        attendTiers(l, q, 1, -1, scale, out, lse);
        if (observeNow || rowNow) { // with the final lse: the parts' probabilities sum to one per head
            long p = probs + 4L * l * shape.heads() * stride;
            if (cpuPart != null) {
                device.probs(shape, q, part(l, BlockTables.DEVICE), PagedPart.NONE, scale, lse, p, stride);
                cpuPart.probs(tables, l, scale, lse, p, stride);
            } else { // both tiers in one launch
                device.probs(shape, q, part(l, BlockTables.DEVICE), part(l, BlockTables.HOST), scale, lse, p, stride);
            }
        }
    }

    /**
     * During a prefill announced by {@link #beginPrefill}, the rows before the first row whose attention is read (no row's
     * attention comes back to the host), over at most the sequence's device blocks per layer less one (a chunk's blocks stay
     * on the device until it is written, {@link #append}; the placement keeps at least one more). Token by token otherwise
     * (decode steps, chunked prefill's later chunks, a policy that reads every row).
     */
    @Override
    public int chunkRows(int max) {
        int position = seq.length();
        if (prefillDone || prompt == null || position >= prompt.first()) {
            return 1;
        }
        int bs = shape.blockSize();
        long blockRows = (long) chunkBlocks * bs - position % bs; // to the end of the chunkBlocks-th block from the current one
        return (int) Math.max(1, Math.min(Math.min(max, blockRows), prompt.first() - position));
    }

    /**
     * The chunk's rows lie in the blocks of the last append, in the device part: both tiers in one launch, row z cut at
     * {@code first + z} through each part's block indexes (the host part, blocks before the chunk, is read whole).
     */
    @Override
    public void attendRows(int l, int first, int n, long q, float scale, long out, long lse) {
        if (n < 1 || first < 0 || first + n != seq.length()) {
            throw new IllegalArgumentException("rows " + first + " .. " + (first + n - 1) + " are not the last of the " + seq.length()
                    + " tokens");
        }
        if (observeNow || rowNow || (selection != null && prefillDone)) {
            throw new IllegalStateException("rows whose attention is read go token by token (chunkRows), not position " + first);
        }
        attendTiers(l, q, n, first, scale, out, lse);
    }

    /**
     * Layer l's attention of {@code rows} queries over both tiers (cut at {@code firstPosition + z} when that is >= 0): one
     * launch, the host blocks read in place over mapped pinned memory; or, with the host tier attended on the CPU
     * ({@link HostAttention#CPU}), the device part launched alone and each row's host part merged by log-sum-exp.
     */
    private void attendTiers(int l, long q, int rows, int firstPosition, float scale, long out, long lse) {
        if (cpuPart == null) {
            device.attendParts(shape, q, rows, firstPosition, part(l, BlockTables.DEVICE), part(l, BlockTables.HOST), scale, out, lse);
            return;
        }
        device.attendParts(shape, q, rows, firstPosition, part(l, BlockTables.DEVICE), PagedPart.NONE, scale, out, lse);
        cpuPart.attend(tables, l, q, rows, scale, out, lse);
    }

    /** Layer l's part of the block tables, over the device tier's slab or the host tier's. */
    private PagedPart part(int l, int part) {
        boolean host = part == BlockTables.HOST;
        long slab = host ? tiers.hostBaseAddress() : tiers.deviceBaseAddress();
        int capacity = host ? tiers.hostCapacityBlocks() : tiers.deviceCapacityBlocks();
        return new PagedPart(slab, (long) capacity * shape.slotBytes(), tables.slots(l, part), tables.validRows(l, part),
                tables.blocks(l, part), tables.mask(l, part), tables.headMask(l, part), tables.count(l, part));
    }

    /**
     * A decode step's launches depend on the host through each layer's part counts and mask flags (the tables and digest
     * indexes themselves are uploaded at {@link #append}, before the step) and on whether the policy observes this step.
     * No key (launch by launch) during prefill, with the host tier attended on the CPU or digest choices made on the host
     * (each reads back mid-step), and, with digests, at the step that fills a block (its digest is computed then).
     */
    @Override
    public Object captureKey() {
        int position = seq.length() - 1;
        boolean fills = position % shape.blockSize() == shape.blockSize() - 1;
        if (!prefillDone || rowNow || cpuPart != null || (selection != null && (!selection.perHead() || fills))) {
            return null;
        }
        int[] key = new int[1 + 4 * layers];
        key[0] = observeNow ? 1 : 0;
        for (int l = 0; l < layers; l++) {
            for (int part = 0; part < 2; part++) {
                key[1 + 4 * l + 2 * part] = tables.count(l, part);
                key[2 + 4 * l + 2 * part] = (tables.mask(l, part) != 0 ? 1 : 0) | (tables.headMask(l, part) != 0 ? 2 : 0);
            }
        }
        return IntBuffer.wrap(key); // equal and hashed by its contents
    }

    @Override
    public void attendCaptured(int l, long q, float scale, long out, long lse) {
        attend(l, q, scale, out, lse);
    }

    /** The tail block's slot in the device tier's slab (the tail is always on the device). */
    @Override
    public int slotIndex(int l, int position) {
        long offset = slot(l, position) - tiers.deviceBaseAddress();
        if (offset < 0 || offset >= (long) tiers.deviceCapacityBlocks() * shape.slotBytes() || offset % shape.slotBytes() != 0) {
            throw new IllegalStateException("layer " + l + "'s block of position " + position + " is not in the device tier's slots");
        }
        return (int) (offset / shape.slotBytes());
    }

    @Override
    public long slab(int l) {
        return tiers.deviceBaseAddress();
    }

    /** What {@link #attend} counted on the host: the per-head choices' pending counts, or a layer's empty host read. */
    @Override
    public void replayed() {
        if (selection == null || !prefillDone) {
            return;
        }
        for (int l = 0; l < layers; l++) {
            int n = tables.count(l, BlockTables.HOST);
            if (n > 0) {
                selection.replayed(l, n);
                tables.chosenOnDevice(l, BlockTables.HOST);
            } else {
                selection.nothingToRead(l);
            }
        }
    }

    /** Where this store attends the host tier's blocks. */
    HostAttention hostAttention() {
        return hostAttention;
    }

    /**
     * After a decode step's layers: the top-k of every layer's head-summed probabilities on the device (one launch for
     * all layers), only the {@code layers x k} positions copied back, given to the sequence ({@link Sequence#observeSelected}:
     * the policy's counts and the placement's requests), ascending; for a policy that reads whole rows
     * ({@code observedTopK() == 0}), the rows themselves ({@link Sequence#observe}).
     */
    @Override
    public void observe() {
        if (selection != null && !(sharedCounts && observeNow)) {
            long t0 = System.nanoTime();
            selection.flush(readStats); // reads the digest choices' counts back: a wait
            waitNanos += System.nanoTime() - t0;
        }
        if (rowNow) {
            rowNow = false;
            promptRow(seq.length() - 1);
            return;
        }
        if (!observeNow) {
            return;
        }
        observeNow = false;
        int keys = seq.length();
        if (wholeRows) {
            long t0 = System.nanoTime();
            float[] rows = downloadRows(keys);
            waitNanos += System.nanoTime() - t0;
            for (int l = 0; l < layers; l++) {
                seq.observe(l, keys - 1, rows, l * shape.heads() * keys, shape.heads(), keys, keys);
            }
            return;
        }
        long counts = selected + 4L * layers * topK;
        device.topK(probs, layers, shape.heads(), stride, keys, topK, selected, counts);
        long t0 = System.nanoTime();
        device.download(selected, selectedHost.clear()); // the top-k, and the digest choices' counts after it
        waitNanos += System.nanoTime() - t0;
        if (sharedCounts) {
            selection.flush(readStats, selectedHost, 4 * layers * (topK + 1));
        }
        for (int l = 0; l < layers; l++) {
            int n = selectedHost.getInt(4 * (layers * topK + l));
            if (n < 0 || n > topK) {
                throw new IllegalStateException("the top-k of layer " + l + " returned " + n + " positions, k is " + topK);
            }
            for (int i = 0; i < n; i++) {
                positions[i] = selectedHost.getInt(4 * (l * topK + i));
            }
            Arrays.sort(positions, 0, n);
            lastSelected[l] = Arrays.copyOf(positions, n);
            seq.observeSelected(l, positions, n);
        }
    }

    @Override
    public long takeWaitNanos() {
        long w = waitNanos;
        waitNanos = 0;
        return w;
    }

    /**
     * The prompt {@code length} tokens long comes next (its rows before those read in chunks, {@link #chunkRows}; the rest
     * token by token): its last rows' attention is read as the CPU's dense prefill reads it ({@link PromptRows#dense}: the
     * policy's {@code prefillRows}, and the placement's prior queries, which seed it at {@link #endPrefill}); with
     * {@code everyRow} (chunked mode) every row goes to a policy that reads attention, and nothing seeds the placement.
     */
    @Override
    public void beginPrefill(int length, boolean everyRow) {
        if (seq.length() != loadedTokens) {
            throw new IllegalStateException("beginPrefill needs an empty sequence (or one holding only a loaded prefix of "
                    + loadedTokens + " tokens), it holds " + seq.length() + " tokens");
        }
        if (loadedTokens >= length) {
            throw new IllegalStateException("the loaded prefix of " + loadedTokens + " tokens leaves nothing of the " + length
                    + "-token prompt to prefill");
        }
        PromptRows rows = everyRow ? PromptRows.everyRow(seq.policy(), length, layers, shape.heads(), shape.blockSize())
                : PromptRows.dense(seq.policy(), length, layers, shape.heads(), shape.blockSize());
        // rows loaded instead of computed are never read: the policy and the placement must not need them
        boolean skippable = everyRow ? seq.policy().tierMode() == TierMode.TIER && RemotePrefill.placementNeutral(seq, hostRead)
                : loadedTokens <= rows.first();
        if (loadedTokens > 0 && !skippable) {
            throw new IllegalStateException("a loaded prefix of " + loadedTokens + " tokens skips prompt rows a " + (everyRow ? "chunked"
                    : "paper-mode") + " prefill reads (RemotePrefill.rowsToCompute says how many to compute)");
        }
        prompt = rows;
        if (!everyRow) { // a dense prefill: no prompt block is freed for the host budget before the prompt's end
            seq.holdHostBudgetUntilEndPrefill();
        }
    }

    /**
     * Before prefill, into the empty sequence: the leading full blocks of {@code prompt} that {@code remote}'s tier holds
     * (all but its last {@code computeAtLeast} tokens at most, {@link RemotePrefill#rowsToCompute}), in whole groups of
     * {@code granuleBlocks} blocks, each group appended at once (the groups a paper-mode prefill appends,
     * {@link #prefillGrid}: the placement then sees the same appends as without the remote tier) and its blocks copied into
     * their device slots, each block's digest computed as its last row would have; returns the tokens loaded, which prefill
     * then skips ({@link #beginPrefill} accepts them). The copies are synchronous and the digests waited for before the next
     * append, which may start a demotion on a copy stream.
     */
    int loadRemote(RemotePrefill remote, int[] prompt, int computeAtLeast, int granuleBlocks) {
        if (seq.length() != 0) {
            throw new IllegalStateException("a remote prefix loads into an empty sequence, it holds " + seq.length() + " tokens");
        }
        RemotePrefix hit = remote.lookup(seq, prompt, computeAtLeast, granuleBlocks);
        int bs = shape.blockSize();
        for (int b = 0; b < hit.blocks(); b += granuleBlocks) {
            append(granuleBlocks * bs);
            for (int i = b; i < b + granuleBlocks; i++) {
                remote.copyIn(seq, hit, i);
                if (selection != null) {
                    for (int l = 0; l < layers; l++) {
                        written(l, (i + 1) * bs - 1);
                    }
                }
            }
            if (selection != null) {
                device.synchronize();
            }
        }
        loadedTokens = seq.length();
        return loadedTokens;
    }

    /**
     * The tokens a paper-mode prefill of up to {@code rows} tokens per chunk appends at once, from the prompt's start to the
     * rows whose attention it reads ({@link #chunkRows}): whole blocks, at most the sequence's chunk blocks; 0 when that is
     * not a whole number of blocks (the chunks then end inside blocks, where a loaded prefix cannot end).
     */
    int prefillGrid(int rows) {
        int grid = Math.min(rows, chunkBlocks * shape.blockSize());
        return grid % shape.blockSize() == 0 ? grid : 0;
    }

    /**
     * One prompt row's probabilities, per layer and head over its {@code position + 1} keys: its top-k blocks count toward
     * the placement's prior, and the policy observes it when it asked for the row. A row the policy does not observe has
     * its top-k selected on the device (one launch for all layers, as a decode step's): only {@code layers x (k + 1)} ints
     * come back, not {@code layers x heads x maxTokens} floats (33.5 MB a row for 32 layers, 32 heads and 8k tokens).
     */
    private void promptRow(int position) {
        if (!prompt.observes(position)) {
            int k = priorPositions.length;
            device.topK(probs, layers, shape.heads(), stride, position + 1, k, priorTop, priorTop + 4L * layers * k);
            device.download(priorTop, priorTopHost.clear());
            for (int l = 0; l < layers; l++) {
                int n = priorTopHost.getInt(4 * (layers * k + l));
                if (n < 0 || n > k) {
                    throw new IllegalStateException("the top-k of prompt row " + position + ", layer " + l + " returned " + n
                            + " positions, k is " + k);
                }
                for (int i = 0; i < n; i++) {
                    priorPositions[i] = priorTopHost.getInt(4 * (l * k + i));
                }
                prompt.countPrior(l, position, priorPositions, n);
            }
            return;
        }
        float[] rowProbs = downloadRows(position + 1);
        for (int l = 0; l < layers; l++) {
            prompt.read(seq, l, position, rowProbs, l * shape.heads() * (position + 1), position + 1);
        }
    }

    /**
     * The step's probabilities over its first {@code keys} tokens, {@code [layers][heads][keys]} packed, copied to the host: the
     * rows' used columns only (one 2-D copy), not all {@code stride} of each row sized for the longest sequence.
     */
    private float[] downloadRows(int keys) {
        int floats = layers * shape.heads() * keys; // below 2^29: the rows' full size is, checked at open
        if (rowProbs == null) {
            rowProbs = new float[layers * shape.heads() * stride];
            rowProbsHost = ByteBuffer.allocate(4 * rowProbs.length).order(ByteOrder.LITTLE_ENDIAN);
        }
        device.downloadRows(probs, 4L * stride, 4 * keys, layers * shape.heads(), rowProbsHost.clear());
        rowProbsHost.asFloatBuffer().get(rowProbs, 0, floats);
        return rowProbs;
    }

    /**
     * A decode step's {@code n} top-k positions of layer l, ascending, to the sequence ({@link Sequence#observeSelected}), as
     * {@link #observe} hands over what the device selected: for benchmarks of the host side ({@link TieredStepBookkeeping}).
     */
    void observeSelected(int l, int[] positions, int n) {
        seq.observeSelected(l, positions, n);
    }

    /** Layers whose block tables were rebuilt from their views since the store opened (the rest kept theirs), for tests. */
    long layerBuilds() {
        return layerBuilds;
    }

    /** Layers whose tables only had the rows of newly masked tokens marked (no block changed) since the store opened, for tests. */
    long maskUpdates() {
        return maskUpdates;
    }

    /** The block tables, for tests. */
    BlockTables tables() {
        return tables;
    }

    /** The positions selected per layer at the last observed step (ascending), for tests; empty before one. */
    int[][] lastSelected() {
        return lastSelected;
    }

    @Override
    public void endPrefill() {
        if (prompt != null) {
            prompt.seed(seq);
            prompt = null;
        }
        seq.endPrefill();
        // Token by token, the prompt's blocks were admitted before its last rows were read: the prior moves them only now.
        // Its promotions land before the first decode step reads either tier, as the CPU decoder's blocks are placed with
        // the prior already known.
        tiers.awaitCopies();
        prefillDone = true;
    }

    @Override
    public void step() {
        seq.step();
    }

    @Override
    public void evict(int position) {
        throw new IllegalStateException("in tiered mode the policy decides what is evicted; evict(position) is for the device-only cache");
    }

    @Override
    public void reset() {
        seq.close();
        seq = openSequence();
    }

    @Override
    public int tokens() {
        return seq.length();
    }

    @Override
    public long bytes() {
        return tiers.slotBytes() * ((long) tiers.deviceCapacityBlocks() + tiers.hostCapacityBlocks());
    }

    /** Blocks of this sequence on the device tier and on the host tier now. */
    int[] residency() {
        return new int[] {seq.deviceBlocks(), seq.hostBlocks()};
    }

    /** How decode steps read the host tier. */
    HostRead hostRead() {
        return hostRead;
    }

    /** Host blocks read against an exact read's, per decode step and layer (zero counts in exact mode). */
    HostReadStats readStats() {
        return readStats;
    }

    /** Device bytes of the block digests (0 in exact mode). */
    long digestBytes() {
        return selection == null ? 0 : selection.digestBytes();
    }

    /** The tiers' statistics. */
    TierManager tiers() {
        return tiers;
    }

    @Override
    public void close() {
        try {
            if (seq != null) { // null only after a reset whose new sequence failed to open
                seq.close();
            }
        } finally {
            tiers.close();
        }
    }
}

package io.tierkv.bench.sim;

import io.tierkv.core.Level;
import io.tierkv.core.Transitions;
import io.tierkv.core.block.BlockTable;
import io.tierkv.core.policy.HierarchicalPolicy;
import io.tierkv.core.policy.KvPolicy;
import io.tierkv.core.policy.Policies;
import io.tierkv.core.policy.PolicyContext;
import io.tierkv.core.popularity.PopularityCounters;

/**
 * A core {@link KvPolicy} (hierarchical, h2o, streaming) driving the tier mapping of DESIGN.md, as the
 * tier manager does: the policy sees the trace's top-k ({@link KvPolicy#observeSelected}) and emits
 * token levels; core's {@link BlockTable} folds them into block levels (a block is as popular as its
 * most popular live token); the block level picks the tier.
 *
 * <ul>
 *   <li>CACHE and NORMAL belong on the device, LOW on the host, EVICT is freed (a top-k hit on an
 *       evicted token is <em>lost</em>: counted as a miss, nothing moved);</li>
 *   <li>under the budget the least popular device blocks go to the host: lower level first (LOW, then
 *       NORMAL, then CACHE), then lower heat ({@link KvPolicy#heat} summed over the block's live
 *       tokens), then the block touched (requested or admitted) longest ago. DESIGN's last tie-break
 *       is "older"; least recently touched is the same for untouched blocks and keeps a policy without
 *       heat (streaming) from evicting its hot sink block first;</li>
 *   <li>CACHE and NORMAL blocks the budget kept on the host wait, most popular first; after every
 *       step that changed levels (a window close, an eviction) they are promoted while the device has
 *       room or holds a block of a lower level (heat alone never swaps blocks, to avoid churn);</li>
 *   <li>a top-k hit on a host block is a miss; with {@code fetch} (the default, {@code hierarchical})
 *       it promotes the block, making room as above; without ({@code hierarchical-nofetch}, DESIGN's
 *       exact mode) the block is read where it is; only new blocks and level changes move blocks.</li>
 * </ul>
 *
 * <p>Evicted tokens are not shown to the policy (in a live run their attention is masked to 0). Both
 * orders are heaps updated for the blocks a step touched or changed; a window close, which shifts
 * every token's heat, re-ranks them all (O(ranked blocks x blockSize) every {@code window} steps).
 */
final class CoreTierPolicy extends AbstractSimPolicy {
    /** Heat bits in a device key: rank (2 bits) | heat (28 bits) | last touch (32 bits). */
    private static final long MAX_HEAT = (1L << 28) - 1;

    private final String name;
    private final String coreSpec;
    private final boolean fetchOnMiss;
    private KvPolicy policy;
    private BlockTable table;
    /** Steps between full re-rankings (the policy's window), 0 for never. */
    private int rekeyEvery;
    private final Transitions tokenMoves = new Transitions();
    private final Transitions blockMoves = new Transitions();
    /** Device-resident blocks (tails excluded), least popular at the root. */
    private IndexedMinHeap device;
    /** Host-resident CACHE/NORMAL blocks by {@code ~key}: the most popular at the root. */
    private IndexedMinHeap waiting;
    /** (topK) live positions of the layer being observed. */
    private int[] live;
    /** (id) the clock when each block was last requested or admitted. */
    private int[] touched;
    /** Counts generated tokens; prefill admissions happen at 0. */
    private int clock;
    private int tail;

    CoreTierPolicy(String name, String coreSpec, boolean fetchOnMiss) {
        this.name = name;
        this.coreSpec = coreSpec;
        this.fetchOnMiss = fetchOnMiss;
        Policies.create(coreSpec);
    }

    /** {@code base} is the core registry name; {@code options} its option text (may be empty). */
    static SimPolicy create(String simName, String base, String options, boolean fetchOnMiss) {
        String coreSpec = options.isEmpty() ? base : base + ":" + options;
        return new CoreTierPolicy(options.isEmpty() ? simName : simName + ":" + options, coreSpec, fetchOnMiss);
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    protected void onStart() {
        policy = Policies.create(coreSpec);
        policy.start(new PolicyContext(context.layers(), context.promptLength(), context.budgetTokensPerLayer(),
                PopularityCounters.java()));
        rekeyEvery = policy instanceof HierarchicalPolicy ? ((HierarchicalPolicy) policy).config().window() : 0;
        table = new BlockTable(context.layers(), context.blockSize());
        device = new IndexedMinHeap(context.blockIds());
        waiting = new IndexedMinHeap(context.blockIds());
        live = new int[context.header().topK()];
        touched = new int[context.blockIds()];
    }

    @Override
    public void prefill(int fullBlocks) {
        int n = context.promptLength();
        if (n > 0) {
            policy.append(n);
            table.append(n, Level.NORMAL_CODE, blockMoves);
            blockMoves.clear();
            tail = (n - 1) / context.blockSize();
        }
        policy.endPrefill(tokenMoves);
        table.apply(tokenMoves, blockMoves);
        tokenMoves.clear();
        blockMoves.clear();
        super.prefill(fullBlocks);
    }

    @Override
    public void append() {
        clock++;
        policy.append(1);
        table.append(1, Level.NORMAL_CODE, blockMoves);
        blockMoves.clear();
        tail = (policy.length() - 1) / context.blockSize();
    }

    /** A block leaving the tail goes where its level says. */
    @Override
    public void admit(int layer, int block) {
        int id = context.id(layer, block);
        touched[id] = clock;
        byte level = table.level(layer, block);
        if (level == Level.EVICT_CODE) {
            residency.admitDropped(id);
        } else if (level == Level.LOW_CODE) {
            residency.admitToHost(id);
        } else {
            long key = key(layer, block);
            if (makeRoomFor(key)) {
                residency.admitToDevice(id);
                device.add(id, key);
            } else {
                residency.admitToHost(id);
                waiting.add(id, ~key);
            }
        }
    }

    @Override
    public boolean canDrop() {
        return true;
    }

    @Override
    public boolean dropped(int layer, int position) {
        return policy.level(layer, position) == Level.EVICT_CODE;
    }

    @Override
    public void onHit(int layer, int block, int request) {
        // Heat changes after observe(); nothing to do before.
    }

    @Override
    public void onMiss(int layer, int block, int request) {
        if (!fetchOnMiss) {
            return;
        }
        int id = context.id(layer, block);
        if (!residency.hasRoom()) {
            demote(device.peek());
        }
        if (waiting.contains(id)) {
            waiting.remove(id);
        }
        residency.fetch(id);
        device.add(id, key(layer, block));
    }

    @Override
    public void observe(int layer, int[] positions, int n) {
        int m = 0;
        for (int i = 0; i < n; i++) {
            if (policy.level(layer, positions[i]) != Level.EVICT_CODE) {
                live[m++] = positions[i];
            }
        }
        policy.observeSelected(layer, live, m);
        int bs = context.blockSize();
        int previous = -1;
        for (int i = 0; i < m; i++) {
            int b = live[i] / bs;
            if (b != previous) {
                touched[context.id(layer, b)] = clock;
                rekey(layer, b);
                previous = b;
            }
        }
    }

    @Override
    public void endStep(int step) {
        policy.step(tokenMoves);
        boolean changed = !tokenMoves.isEmpty();
        if (changed) {
            table.apply(tokenMoves, blockMoves);
            int bs = context.blockSize();
            for (int i = 0; i < blockMoves.size(); i++) {
                move(blockMoves.layer(i), blockMoves.index(i), blockMoves.to(i));
            }
            for (int i = 0; i < tokenMoves.size(); i++) {
                rekey(tokenMoves.layer(i), tokenMoves.index(i) / bs);
            }
            tokenMoves.clear();
            blockMoves.clear();
        }
        if (rekeyEvery > 0 && (step + 1) % rekeyEvery == 0) {
            rekeyAll();
            changed = true;
        }
        if (changed) {
            rebalance();
        }
    }

    /** Carries out one block transition (the tail is placed when it is admitted). */
    private void move(int layer, int block, byte to) {
        if (block >= tail) {
            return;
        }
        int id = context.id(layer, block);
        byte where = residency.where(id);
        if (to == Level.EVICT_CODE || to == Level.LOW_CODE) {
            if (waiting.contains(id)) {
                waiting.remove(id);
            }
            if (where == Residency.DEVICE) {
                device.remove(id);
                if (to == Level.LOW_CODE) {
                    residency.demote(id);
                }
            }
            if (to == Level.EVICT_CODE) {
                residency.drop(id);
            }
        } else if (where == Residency.HOST && !waiting.contains(id)) {
            waiting.add(id, ~key(layer, block));
        }
    }

    /** Promotes waiting blocks while the device has room or holds a block of a lower level. */
    private void rebalance() {
        while (!waiting.isEmpty()) {
            int id = waiting.peek();
            long key = ~waiting.key(id);
            if (!residency.hasRoom()) {
                int victim = device.peek();
                if (rank(device.key(victim)) >= rank(key)) {
                    return;
                }
                demote(victim);
            }
            waiting.remove(id);
            residency.fetch(id);
            device.add(id, key);
        }
    }

    /** Frees a device slot if needed for a block ranked {@code key}; false if every device block outranks it. */
    private boolean makeRoomFor(long key) {
        if (residency.hasRoom()) {
            return true;
        }
        int victim = device.peek();
        if (device.key(victim) >= key) {
            return false;
        }
        demote(victim);
        return true;
    }

    /** Moves a device block to the host; a CACHE/NORMAL one waits there for room. */
    private void demote(int id) {
        long key = device.key(id);
        device.remove(id);
        residency.demote(id);
        if (rank(key) > 0) {
            waiting.add(id, ~key);
        }
    }

    private static long rank(long key) {
        return key >>> 60;
    }

    private void rekey(int layer, int block) {
        if (block < tail) {
            int id = context.id(layer, block);
            if (device.contains(id)) {
                device.update(id, key(layer, block));
            } else if (waiting.contains(id)) {
                waiting.update(id, ~key(layer, block));
            }
        }
    }

    private void rekeyAll() {
        for (int i = 0; i < device.size(); i++) {
            int id = device.at(i);
            device.setKeyUnordered(id, key(context.layerOf(id), context.blockOf(id)));
        }
        device.heapify();
        for (int i = 0; i < waiting.size(); i++) {
            int id = waiting.at(i);
            waiting.setKeyUnordered(id, ~key(context.layerOf(id), context.blockOf(id)));
        }
        waiting.heapify();
    }

    /** Rank (LOW 0, NORMAL 1, CACHE 2), then heat, then last touch: the smallest key leaves first. */
    private long key(int layer, int block) {
        byte level = table.level(layer, block);
        long rank = level == Level.CACHE_CODE ? 2 : level == Level.NORMAL_CODE ? 1 : 0;
        int bs = context.blockSize();
        int from = block * bs;
        int to = Math.min(from + bs, policy.length());
        long heat = 0;
        for (int t = from; t < to; t++) {
            if (policy.level(layer, t) != Level.EVICT_CODE) {
                heat += policy.heat(layer, t);
            }
        }
        return rank << 60 | Math.min(heat, MAX_HEAT) << 32 | touched[context.id(layer, block)];
    }

    @Override
    public void finished() {
        policy.checkInvariants();
        table.checkInvariants();
        device.checkInvariants();
        if (device.size() != residency.deviceBlocks()) {
            throw new IllegalStateException(name + ": ranks " + device.size() + " device blocks, the device holds " + residency.deviceBlocks());
        }
        for (int i = 0; i < device.size(); i++) {
            int id = device.at(i);
            if (residency.where(id) != Residency.DEVICE) {
                throw new IllegalStateException(name + ": ranks block " + id + " which is " + Residency.name(residency.where(id)));
            }
        }
        waiting.checkInvariants();
        for (int i = 0; i < waiting.size(); i++) {
            int id = waiting.at(i);
            if (residency.where(id) != Residency.HOST || table.level(context.layerOf(id), context.blockOf(id)) > Level.NORMAL_CODE) {
                throw new IllegalStateException(name + ": block " + id + " waits for the device but is "
                        + Residency.name(residency.where(id)) + " at " + Level.of(table.level(context.layerOf(id), context.blockOf(id))));
            }
        }
    }
}

package io.tierkv.bench.sim;

import io.tierkv.core.Level;
import io.tierkv.core.Transitions;
import io.tierkv.core.block.BlockTable;
import io.tierkv.core.policy.HierarchicalPolicy;
import io.tierkv.core.policy.KvPolicy;
import io.tierkv.core.policy.Policies;
import io.tierkv.core.policy.PolicyContext;
import io.tierkv.core.popularity.PopularityCounters;
import java.util.Arrays;

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
 *       tokens), then the older block;</li>
 *   <li>a block whose level rises to CACHE or NORMAL while on the host is promoted when the device has
 *       room or holds a less popular block;</li>
 *   <li>a top-k hit on a host block is a miss; with {@code fetch} (the default, {@code hierarchical})
 *       it promotes the block, making room as above; without ({@code hierarchical-nofetch}, DESIGN's
 *       exact mode) the block is read where it is and only window closes move blocks.</li>
 * </ul>
 *
 * <p>Evicted tokens are not shown to the policy (in a live run their attention is masked to 0). The
 * device order is a heap updated for the blocks a step touched or changed; a window close, which
 * shifts every token's heat, re-ranks all device blocks (O(device blocks x blockSize) every
 * {@code window} steps).
 */
final class CoreTierPolicy extends AbstractSimPolicy {
    /** Heat bits in a device key: rank (2 bits) | heat (28 bits) | block (32 bits). */
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
    /** (topK) live positions of the layer being observed. */
    private int[] live;
    /** (ids) blocks whose level rose while on the host this step. */
    private int[] promote;
    private int promotions;
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
        live = new int[context.header().topK()];
        promote = new int[64];
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
        policy.append(1);
        table.append(1, Level.NORMAL_CODE, blockMoves);
        blockMoves.clear();
        tail = (policy.length() - 1) / context.blockSize();
    }

    /** A block leaving the tail goes where its level says. */
    @Override
    public void admit(int layer, int block) {
        int id = context.id(layer, block);
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
        evictOne();
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
                rekey(layer, b);
                previous = b;
            }
        }
    }

    @Override
    public void endStep(int step) {
        policy.step(tokenMoves);
        if (!tokenMoves.isEmpty()) {
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
        }
        promotePending();
    }

    /** Carries out one block transition (the tail is placed when it is admitted). */
    private void move(int layer, int block, byte to) {
        if (block >= tail) {
            return;
        }
        int id = context.id(layer, block);
        byte where = residency.where(id);
        if (to == Level.EVICT_CODE) {
            if (where == Residency.DEVICE) {
                device.remove(id);
            }
            residency.drop(id);
        } else if (to == Level.LOW_CODE) {
            if (where == Residency.DEVICE) {
                device.remove(id);
                residency.demote(id);
            }
        } else if (where == Residency.HOST) {
            if (promotions == promote.length) {
                promote = Arrays.copyOf(promote, promotions * 2);
            }
            promote[promotions++] = id;
        }
    }

    private void promotePending() {
        for (int i = 0; i < promotions; i++) {
            int id = promote[i];
            int layer = context.layerOf(id);
            int block = context.blockOf(id);
            if (residency.where(id) != Residency.HOST || table.level(layer, block) > Level.NORMAL_CODE) {
                continue;
            }
            long key = key(layer, block);
            if (makeRoomFor(key)) {
                residency.fetch(id);
                device.add(id, key);
            }
        }
        promotions = 0;
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
        device.remove(victim);
        residency.demote(victim);
        return true;
    }

    /** Frees one device slot if the device is full (a demand fetch always gets in). */
    private void evictOne() {
        if (!residency.hasRoom()) {
            int victim = device.poll();
            residency.demote(victim);
        }
    }

    private void rekey(int layer, int block) {
        if (block < tail) {
            int id = context.id(layer, block);
            if (device.contains(id)) {
                device.update(id, key(layer, block));
            }
        }
    }

    private void rekeyAll() {
        for (int i = 0; i < device.size(); i++) {
            int id = device.at(i);
            device.setKeyUnordered(id, key(context.layerOf(id), context.blockOf(id)));
        }
        device.heapify();
    }

    /** Rank (LOW 0, NORMAL 1, CACHE 2), then heat, then block index: the smallest key leaves first. */
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
        return rank << 60 | Math.min(heat, MAX_HEAT) << 32 | block;
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
    }
}

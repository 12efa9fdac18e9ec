package io.tierkv.bench.sim;

import io.tierkv.core.Level;
import io.tierkv.core.Transitions;
import io.tierkv.core.block.BlockTable;
import io.tierkv.core.placement.Moves;
import io.tierkv.core.placement.Placement;
import io.tierkv.core.placement.PlacementConfig;
import io.tierkv.core.placement.TierMode;
import io.tierkv.core.policy.KvPolicy;
import io.tierkv.core.policy.Policies;
import io.tierkv.core.policy.PolicyContext;
import io.tierkv.core.popularity.PopularityCounters;
import io.tierkv.core.trace.TraceHeader;

/**
 * A core {@link KvPolicy} (hierarchical, h2o, streaming, ...) with core's {@link Placement}, fed exactly as
 * the tier manager feeds them: the policy sees the trace's top-k ({@link KvPolicy#observeSelected}) and
 * emits token levels; core's {@link BlockTable} folds them into block levels; the placement sees every
 * requested block (the tail's too), every block leaving the tail and every block level change, and its
 * moves are carried out on the replay's {@link Residency}. Host blocks are read where they lie (a miss)
 * unless the placement promotes them, as in a live run.
 *
 * <p>A request is lost only when its block was freed: in drop mode when the policy evicted its tokens, in
 * tier mode only past a host budget ({@code host=} blocks per layer... of the budget; unbounded by default).
 */
final class TieredPolicy extends AbstractSimPolicy {
    private final String name;
    private final String coreSpec;
    private final double hostFactor;
    private final TierMode mode;
    private KvPolicy policy;
    private BlockTable table;
    private Placement placement;
    private final Transitions tokenMoves = new Transitions();
    private final Transitions blockMoves = new Transitions();
    private final Moves moves = new Moves();
    /** (topK) live positions of the layer being observed. */
    private int[] live;
    /** (id) stamp of the last {@link #apply} that saw the block, and the blocks the current one saw. */
    private int[] mark;
    private int[] touched;
    private int stamp = 1;


    private TieredPolicy(String name, String coreSpec, double hostFactor) {
        this.name = name;
        this.coreSpec = coreSpec;
        this.hostFactor = hostFactor;
        this.mode = Policies.create(coreSpec).tierMode();
    }

    /**
     * {@code base} is the core registry name, {@code options} its options; {@code host=F} (simulator only)
     * bounds the host tier at F times the device budget.
     */
    static SimPolicy create(String base, String options) {
        double host = Double.POSITIVE_INFINITY;
        StringBuilder core = new StringBuilder();
        for (String part : options.isEmpty() ? new String[0] : options.split(",")) {
            if (part.trim().startsWith("host=")) {
                host = Double.parseDouble(part.trim().substring(5));
                if (!(host >= 0)) {
                    throw new IllegalArgumentException(base + ": host=" + host + " must be >= 0");
                }
            } else {
                core.append(core.length() == 0 ? "" : ",").append(part.trim());
            }
        }
        String coreSpec = core.length() == 0 ? base : base + ":" + core;
        return new TieredPolicy(options.isEmpty() ? base : base + ":" + options, coreSpec, host);
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    protected void onStart() {
        TraceHeader h = context.header();
        policy = Policies.create(coreSpec);
        policy.start(new PolicyContext(context.layers(), context.promptLength(), context.budgetTokensPerLayer(),
                PopularityCounters.java()));
        table = new BlockTable(context.layers(), context.blockSize());
        int host = Double.isInfinite(hostFactor) ? Integer.MAX_VALUE
                : (int) Math.min(Integer.MAX_VALUE, Math.round(hostFactor * context.budgetBlocks()));
        placement = new Placement(PlacementConfig.defaults(), mode, context.layers(), context.capacity(), host);
        live = new int[h.topK()];
        mark = new int[context.blockIds()];
        touched = new int[context.blockIds()];
    }

    @Override
    public void prefill(int fullBlocks) {
        int n = context.promptLength();
        if (n > 0) {
            policy.append(n);
            table.append(n, Level.NORMAL_CODE, blockMoves);
            blockMoves.clear();
        }
        TraceHeader h = context.header();
        if (h.hasPrefill()) {
            for (int l = 0; l < context.layers(); l++) {
                int[] counts = h.prefillCounts(l);
                for (int b = 0; b < counts.length; b++) {
                    placement.prior(l, b, counts[b], moves);
                }
            }
        }
        policy.endPrefill(tokenMoves);
        applyLevels();
        super.prefill(fullBlocks);
        apply();
    }

    @Override
    public void append() {
        policy.append(1);
        table.append(1, Level.NORMAL_CODE, blockMoves);
        blockMoves.clear();
    }

    @Override
    public void admit(int layer, int block) {
        placement.admit(layer, block, table.level(layer, block), moves);
    }

    /** The step's admissions are carried out together, as the tier manager's append does. */
    @Override
    public void admitted() {
        apply();
    }

    @Override
    public boolean canDrop() {
        return mode == TierMode.DROP;
    }

    @Override
    public boolean dropped(int layer, int position) {
        return policy.level(layer, position) == Level.EVICT_CODE;
    }

    @Override
    public void onHit(int layer, int block, int request) {
        // The placement learns of requests in observe(), tail requests included.
    }

    @Override
    public void onMiss(int layer, int block, int request) {
        // Read in place; the placement may promote the block in observe().
    }

    @Override
    public void observe(int layer, int[] positions, int n) {
        int m = 0;
        boolean drop = mode == TierMode.DROP;
        for (int i = 0; i < n; i++) {
            if (!drop || policy.level(layer, positions[i]) != Level.EVICT_CODE) {
                live[m++] = positions[i];
            }
        }
        policy.observeSelected(layer, live, m);
        placement.requestPositions(layer, live, m, context.blockSize(), moves);
    }

    @Override
    public void endStep(int step) {
        policy.step(tokenMoves);
        applyLevels();
        placement.step();
        apply();
    }

    /** Folds the policy's token transitions into block levels and tells the placement. */
    private void applyLevels() {
        if (tokenMoves.isEmpty()) {
            return;
        }
        table.apply(tokenMoves, blockMoves);
        for (int i = 0; i < blockMoves.size(); i++) {
            placement.level(blockMoves.layer(i), blockMoves.index(i), blockMoves.to(i), moves);
        }
        tokenMoves.clear();
        blockMoves.clear();
    }

    /**
     * Carries the placement's moves out on the replay's residency, netted per block as the tier manager does
     * between two of its operations (a block demoted and promoted back within one step is not copied at all):
     * blocks leaving the device first, then blocks coming to it.
     */
    private void apply() {
        int n = 0;
        for (int i = 0; i < moves.size(); i++) {
            int id = context.id(moves.layer(i), moves.block(i));
            if (mark[id] != stamp) {
                mark[id] = stamp;
                touched[n++] = id;
            }
        }
        stamp++;
        moves.clear();
        for (int pass = 0; pass < 2; pass++) {
            for (int i = 0; i < n; i++) {
                int id = touched[i];
                byte want = placement.where(context.layerOf(id), context.blockOf(id));
                byte now = residency.where(id);
                boolean toDevice = want == Placement.DEVICE;
                if ((pass == 0) == toDevice) {
                    continue;
                }
                if (want == Placement.DEVICE) {
                    if (now == Residency.ABSENT) {
                        residency.admitToDevice(id);
                    } else if (now == Residency.HOST) {
                        residency.fetch(id);
                    }
                } else if (want == Placement.HOST) {
                    if (now == Residency.ABSENT) {
                        residency.admitToHost(id);
                    } else if (now == Residency.DEVICE) {
                        residency.demote(id);
                    }
                } else if (want == Placement.FREED) {
                    if (now == Residency.ABSENT) {
                        residency.admitDropped(id);
                    } else if (now != Residency.DROPPED) {
                        residency.drop(id);
                    }
                }
            }
        }
    }

    @Override
    public void finished() {
        policy.checkInvariants();
        table.checkInvariants();
        placement.checkInvariants();
        if (placement.deviceBlocks() != residency.deviceBlocks()) {
            throw new IllegalStateException(name + ": placement holds " + placement.deviceBlocks() + " device blocks, the replay "
                    + residency.deviceBlocks());
        }
    }
}

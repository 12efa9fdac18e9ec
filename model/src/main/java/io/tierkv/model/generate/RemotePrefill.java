package io.tierkv.model.generate;

import io.tierkv.core.Tier;
import io.tierkv.core.placement.TierMode;
import io.tierkv.core.policy.KvPolicy;
import io.tierkv.core.prefix.BlockHash;
import io.tierkv.core.prefix.PrefixChain;
import io.tierkv.tiering.BlockDescriptor;
import io.tierkv.tiering.Sequence;
import io.tierkv.tiering.TierManager;
import io.tierkv.tiering.arena.SlotArena;
import io.tierkv.tiering.remote.BlockMemory;
import io.tierkv.tiering.remote.RemoteKvTier;
import io.tierkv.tiering.remote.RemotePrefix;
import java.util.Arrays;
import java.util.List;

/**
 * One prompt's use of the remote tier ({@link RemoteKvTier}), the three seams of the plug-in plan in the
 * tiering README:
 *
 * <ol>
 *   <li>{@link #load} before prefill: looks the prompt's full blocks up and appends and fills the leading hits
 *       one block at a time (so a device tier smaller than the prefix demotes older blocks as usual); prefill
 *       then computes only the prompt from {@link #skipped()} on, attending to the loaded blocks;</li>
 *   <li>{@link #offerWritten} after prefill: write-through of the prompt's full blocks that prefill computed (those written
 *       before the sequence first masked a token, or computed densely: what any run computes for those tokens);</li>
 *   <li>{@link Sequence.FreeListener}: a full prompt block the tiers are about to free is offered first (spill
 *       instead of drop), while every layer of it is still readable.</li>
 * </ol>
 *
 * <p>Blocks are read and written where they lie, through their arena's slab: with the CPU in off-heap and pinned
 * memory, through the driver (a synchronous copy) in a CUDA device slab, so the same class serves the CPU tiers and
 * the CUDA decoder's. The output of a generation does not change: a hit's bytes are the keys and values prefill would have
 * written (same model, layout and tokens, checked by the value's checksum; on the CUDA decoder, up to the rounding of the
 * device/host split of the run that computed them), and positions continue from {@link #skipped()}.
 */
public final class RemotePrefill implements Sequence.FreeListener {
    private final RemoteKvTier remote;
    private final TierManager tiers;
    private final BlockDescriptor descriptor;
    private final int blockSize;
    private final int layers;
    private List<BlockHash> hashes = List.of();
    /** (block) offered already, from prefill's write-through or a spill. */
    private boolean[] offered = new boolean[0];
    private int skipped;
    private int lookedUpBlocks;
    private int loadedBlocks;
    private int offeredBlocks;
    private int spilledBlocks;
    private long lookupNanos;
    /** Prompt tokens whose keys and values the caller's prefill computed attending every earlier token ({@link #computesDensely}). */
    private int denseRows;
    /** The first prompt row the caller's prefill computed reading the host tier sparsely ({@link #readsSparselyFrom}), or MAX_VALUE. */
    private int sparseFrom = Integer.MAX_VALUE;
    /** Whether the last lookup had to leave the whole prompt to prefill ({@link #computesWholePrompt}). */
    private boolean wholePrompt;

    public RemotePrefill(RemoteKvTier remote, TierManager tiers) {
        if (!remote.namespace().layout().equals(tiers.config().layout())) {
            throw new IllegalArgumentException("the remote tier's layout " + remote.namespace().layout()
                    + " differs from the tier manager's " + tiers.config().layout());
        }
        this.remote = remote;
        this.tiers = tiers;
        this.descriptor = tiers.descriptor();
        this.blockSize = descriptor.blockSize();
        this.layers = tiers.config().layout().layers();
    }

    /**
     * The prompt tokens at the end that prefill must compute whatever the remote tier holds, so that the policy
     * and the placement decide exactly as without it: in the paper's mode the query rows a dense prefill keeps
     * ({@link TieredDecoder#promptQueryRows}: the rows the policy observes and those that seed the placement);
     * in chunked mode nothing for a policy in {@link TierMode#TIER} when where a block lives changes no output
     * ({@code placementNeutral}: the policy and the placement then act on fewer prompt rows, which only moves blocks
     * between tiers), and the whole prompt otherwise (a policy whose windows close while the prompt streams in
     * evicts by what it saw; a bounded host tier frees by the placement's values; digest reads attend by where
     * blocks lie).
     */
    public static int rowsToCompute(KvPolicy policy, int promptLength, boolean paper, boolean placementNeutral) {
        if (paper) {
            return PromptRows.queryRows(policy, promptLength); // not through TieredDecoder: the CUDA path stays free of libtorch
        }
        return policy.tierMode() == TierMode.TIER && placementNeutral ? 0 : promptLength;
    }

    /**
     * Whether where {@code seq}'s blocks live changes no output: the host tier is read exactly ({@code hostRead}) and
     * unbounded, so nothing is freed for want of host room.
     */
    public static boolean placementNeutral(Sequence seq, HostRead hostRead) {
        return !hostRead.digest() && seq.hostBudgetBlocks() == Integer.MAX_VALUE;
    }

    /**
     * Looks up the full blocks of {@code prompt} before its last {@code computeAtLeast} tokens (never the last
     * token's block) and registers {@code seq} for spills; the caller loads the leading hits
     * ({@link TieredDecoder#prefillDense(Sequence, KvPolicy, int[], RemotePrefix)}, or {@link #load}).
     */
    public RemotePrefix lookup(Sequence seq, int[] prompt, int computeAtLeast) {
        return lookup(seq, prompt, computeAtLeast, 1);
    }

    /**
     * As above, the prefix loaded in whole groups of {@code granuleBlocks} blocks: the leading hits are cut to a multiple
     * of it (a loader that appends the prefix in the groups prefill appends, so that the placement sees the same appends
     * with or without the remote tier).
     */
    public RemotePrefix lookup(Sequence seq, int[] prompt, int computeAtLeast, int granuleBlocks) {
        if (seq.length() != 0) {
            throw new IllegalStateException("the remote prefix loads into an empty sequence, it holds " + seq.length() + " tokens");
        }
        if (granuleBlocks < 1) {
            throw new IllegalArgumentException("granuleBlocks must be >= 1, was " + granuleBlocks);
        }
        hashes = PrefixChain.hashes(remote.namespace(), prompt, (prompt.length / blockSize) * blockSize);
        offered = new boolean[hashes.size()];
        denseRows = 0;
        sparseFrom = Integer.MAX_VALUE;
        wholePrompt = computeAtLeast >= prompt.length;
        seq.onFree(this);
        long t0 = System.nanoTime();
        int reusable = Math.min((prompt.length - 1) / blockSize, Math.max(0, prompt.length - computeAtLeast) / blockSize);
        reusable = Math.min(hashes.size(), reusable) / granuleBlocks * granuleBlocks;
        lookedUpBlocks = reusable;
        RemotePrefix found = remote.lookup(hashes.subList(0, reusable));
        lookupNanos = System.nanoTime() - t0;
        for (int b = 0; b < found.blocks(); b++) {
            offered[b] = true; // the store holds it
        }
        RemotePrefix hit = found.leading(found.blocks() / granuleBlocks * granuleBlocks);
        loadedBlocks = hit.blocks();
        skipped = hit.tokens(blockSize);
        return hit;
    }

    /**
     * {@link #lookup}, then appends the leading hits to the empty {@code seq} one block at a time and copies
     * them in (chunked prefill: the rest of the prompt then runs from {@link #skipped()}); returns the tokens loaded.
     */
    public int load(Sequence seq, int[] prompt, int computeAtLeast) {
        RemotePrefix hit = lookup(seq, prompt, computeAtLeast);
        for (int b = 0; b < hit.blocks(); b++) {
            seq.append(blockSize);
            copyIn(seq, hit, b);
        }
        return skipped;
    }

    /**
     * Copies found block {@code b} of {@code hit} into block {@code b} of {@code seq}, which the caller appended with its
     * last append (so its slots are on the device tier); synchronous.
     */
    public void copyIn(Sequence seq, RemotePrefix hit, int b) {
        if (b >= seq.blocks() || seq.length() < (b + 1) * blockSize) {
            throw new IllegalStateException("block " + b + " is not a full block of the sequence's " + seq.length() + " tokens");
        }
        hit.copyBlockInto(b, slots(seq));
    }

    /**
     * The caller's prefill computes the first {@code rows} prompt tokens' keys and values with every earlier token attended,
     * whatever the tiers mask while it places them (the CPU's dense prefill computes the whole prompt before appending it):
     * their blocks may be offered even after a mask ({@link #offerable}). Call after {@link #lookup}, before prefill.
     */
    public void computesDensely(int rows) {
        denseRows = rows;
    }

    /**
     * The caller's prefill computes prompt row {@code row} reading the host tier sparsely (a digest read of a one-row chunk):
     * the keys and values of that row and the later ones depend on where this run's blocks lie, so their blocks are not
     * offered. Call after {@link #lookup}, before that row is computed.
     */
    public void readsSparselyFrom(int row) {
        sparseFrom = Math.min(sparseFrom, row);
    }

    /**
     * Whether the last lookup left the whole prompt to prefill (its rows all computed, nothing looked up: a prefill that
     * reads every row, or where loaded rows would change what it computes, {@link #rowsToCompute}).
     */
    public boolean computesWholePrompt() {
        return wholePrompt;
    }

    /**
     * Whether full prompt block {@code block} holds the keys and values any run computes for its tokens, so that the store
     * may serve it: written before the sequence first masked a token (a freed block, an eviction: the rows after were
     * computed without it, as this run's policy and budgets chose) and before a sparse host read, or computed densely.
     */
    private boolean offerable(Sequence seq, int block) {
        return (block + 1) * blockSize <= Math.max(denseRows, Math.min(seq.rowsBeforeFirstMask(), sparseFrom));
    }

    /** Offers every full prompt block not offered yet that the sequence still holds in every layer, if {@link #offerable}. */
    public void offerWritten(Sequence seq) {
        for (int b = 0; b < hashes.size(); b++) {
            if (!offered[b] && offerable(seq, b) && heldInEveryLayer(seq, b)) {
                offer(seq, b);
                offeredBlocks++;
            }
        }
    }

    @Override
    public void beforeFree(Sequence seq, int layer, int block) {
        if (block < hashes.size() && !offered[block] && offerable(seq, block) && heldInEveryLayer(seq, block)) {
            offer(seq, block);
            spilledBlocks++;
        }
    }

    private void offer(Sequence seq, int block) {
        offered[block] = true;
        remote.offer(hashes.get(block), block, slots(seq));
    }

    private boolean heldInEveryLayer(Sequence seq, int block) {
        if (block >= seq.blocks() || (block + 1) * blockSize > seq.length()) {
            return false;
        }
        for (int l = 0; l < layers; l++) {
            if (seq.tier(l, block) == Tier.NONE) {
                return false;
            }
        }
        return true;
    }

    /**
     * Each block where readers find it now (device or host slot), read and written through the slot's slab (the
     * addresses may be a device's); valid until the sequence's next operation.
     */
    private BlockMemory slots(Sequence seq) {
        return new BlockMemory() {
            @Override
            public long keyAddress(int block, int layer) {
                return arena(seq, layer, block).address(seq.slot(layer, block)) + descriptor.keyOffset(0);
            }

            @Override
            public long valueAddress(int block, int layer) {
                return arena(seq, layer, block).address(seq.slot(layer, block)) + descriptor.valueOffset(0);
            }

            @Override
            public void read(int block, int layer, boolean values, byte[] dst, int offset, int length) {
                SlotArena arena = arena(seq, layer, block);
                arena.slab().read(slabOffset(arena, seq.slot(layer, block), values), dst, offset, length);
            }

            @Override
            public void write(int block, int layer, boolean values, byte[] src, int offset, int length) {
                SlotArena arena = arena(seq, layer, block);
                arena.slab().write(slabOffset(arena, seq.slot(layer, block), values), src, offset, length);
            }

            @Override
            public void readBlock(int block, int layers, int halfBytes, byte[] dst, int offset) {
                copyBlock(seq, block, layers, halfBytes, dst, offset, false);
            }

            @Override
            public void writeBlock(int block, int layers, int halfBytes, byte[] src, int offset) {
                copyBlock(seq, block, layers, halfBytes, src, offset, true);
            }
        };
    }

    /**
     * A block's payload ({@link BlockMemory#readBlock}'s layout) to or from its slots: the halves of the layers whose slots
     * lie in one slab go in one {@link io.tierkv.tiering.arena.Slab#writeRanges} (or {@code readRanges}), so a device slab
     * waits once for them, not once per half.
     */
    private void copyBlock(Sequence seq, int block, int layers, int halfBytes, byte[] array, int offset, boolean write) {
        long[] at = new long[2 * layers];
        int[] from = new int[2 * layers];
        int[] lengths = new int[2 * layers];
        Arrays.fill(lengths, halfBytes);
        for (int layer = 0; layer < layers; ) {
            SlotArena arena = arena(seq, layer, block);
            int n = 0;
            for (; layer < layers && arena(seq, layer, block) == arena; layer++) { // the run of layers in this arena
                for (int half = 0; half < 2; half++, n++) {
                    at[n] = slabOffset(arena, seq.slot(layer, block), half == 1);
                    from[n] = offset + (2 * layer + half) * halfBytes;
                }
            }
            if (write) {
                arena.slab().writeRanges(n, at, array, from, lengths);
            } else {
                arena.slab().readRanges(n, at, array, from, lengths);
            }
        }
    }

    private SlotArena arena(Sequence seq, int layer, int block) {
        Tier tier = seq.tier(layer, block);
        if (tier == Tier.NONE) {
            throw new IllegalStateException("block " + block + " of layer " + layer + " is not held by either tier");
        }
        return tier == Tier.DEVICE ? tiers.deviceArena() : tiers.hostArena();
    }

    private long slabOffset(SlotArena arena, int slot, boolean values) {
        return arena.address(slot) - arena.baseAddress() + (values ? descriptor.valueOffset(0) : descriptor.keyOffset(0));
    }

    /** Prompt tokens loaded from the remote tier instead of computed. */
    public int skipped() {
        return skipped;
    }

    /**
     * Prompt blocks looked up; 0 when prefill had to compute every full block (a policy or a setting that reads every
     * prompt row, {@link #rowsToCompute}).
     */
    public int lookedUpBlocks() {
        return lookedUpBlocks;
    }

    /** Blocks (all layers) loaded from the remote tier. */
    public int loadedBlocks() {
        return loadedBlocks;
    }

    /** Prompt blocks offered after prefill wrote them. */
    public int offeredBlocks() {
        return offeredBlocks;
    }

    /** Prompt blocks offered because the tiers were about to free them. */
    public int spilledBlocks() {
        return spilledBlocks;
    }

    /** How long this prompt's lookup took. */
    public long lookupNanos() {
        return lookupNanos;
    }

    public RemoteKvTier remote() {
        return remote;
    }

    /** The tiers whose sequences this prefill loads into and offers from. */
    public TierManager tiers() {
        return tiers;
    }
}

package io.tierkv.model.generate;

import io.tierkv.core.DType;
import io.tierkv.core.KvLayout;
import io.tierkv.core.policy.KvPolicy;
import io.tierkv.model.llama.LlamaConfig;
import io.tierkv.model.llama.LlamaWeights;
import io.tierkv.tiering.Sequence;
import io.tierkv.tiering.TierConfig;
import io.tierkv.tiering.TierManager;
import io.tierkv.tiering.remote.RemoteKvTier;
import java.util.function.IntConsumer;

/**
 * One generation with its own tier manager: a device arena that holds exactly the budget (a fraction of
 * the prompt, in whole blocks per layer), a host arena large enough for the whole sequence, the sequence
 * opened with the policy, and the decoder over both arenas. The one place that turns "policy, budget,
 * block size" into memory, for generate, eval, trace record and the benchmarks.
 */
public final class TieredSession implements AutoCloseable {
    private final TierManager tiers;
    private final Sequence sequence;
    private final KvPolicy policy;
    private final TieredDecoder decoder;
    private final int budgetTokens;
    private final int deviceBlocks;
    /** Device bytes set aside for the block digests of digest mode (0 in exact mode). */
    private final long digestReserveBytes;
    /** The remote tier's use by this session's prompt; null without a remote tier. */
    private RemotePrefill remote;

    /**
     * @param budget        device budget as a fraction of the prompt, in (0, 1]
     * @param maxNewTokens  tokens that may be generated (sizes the host arena)
     * @param chunk         prompt chunk in chunked mode, 0 for the paper's dense prefill (it needs room on the device)
     */
    public TieredSession(LlamaWeights weights, KvPolicy policy, int promptTokens, double budget, int blockSize, int maxNewTokens,
                         int chunk) {
        this(weights, policy, promptTokens, budget, blockSize, maxNewTokens, chunk, Double.POSITIVE_INFINITY);
    }

    /**
     * @param hostBudget the host tier's budget as a multiple of the device budget ({@code --host-budget}); past it the
     *                   least valuable host blocks are freed (EVICT ones first). Infinity: the host arena is the only
     *                   limit, and it holds the whole sequence
     */
    public TieredSession(LlamaWeights weights, KvPolicy policy, int promptTokens, double budget, int blockSize, int maxNewTokens,
                         int chunk, double hostBudget) {
        this(weights, policy, promptTokens, budget, blockSize, maxNewTokens, chunk, hostBudget, HostRead.EXACT);
    }

    /**
     * @param hostRead how decode steps read the host tier ({@code --host-read}); in digest mode the block digests of the
     *                 whole sequence (prompt and new tokens) are taken out of the device budget, in whole blocks per
     *                 layer, before any KV is placed: the device holds the KV and the digests within the budget
     */
    public TieredSession(LlamaWeights weights, KvPolicy policy, int promptTokens, double budget, int blockSize, int maxNewTokens,
                         int chunk, double hostBudget, HostRead hostRead) {
        if (hostRead == null) {
            throw new IllegalArgumentException("hostRead must not be null (HostRead.EXACT reads every host block)");
        }
        if (!(hostBudget >= 0)) {
            throw new IllegalArgumentException("host budget must be >= 0 times the device budget, was " + hostBudget);
        }
        LlamaConfig c = weights.config;
        DeviceBudget base = DeviceBudget.of(budget, promptTokens, blockSize, c.layers());
        if (promptTokens + maxNewTokens > c.maxPositions()) {
            throw new IllegalArgumentException("the prompt (" + promptTokens + " tokens) plus " + maxNewTokens
                    + " new tokens exceeds the model's max_position_embeddings of " + c.maxPositions());
        }
        KvLayout layout = new KvLayout(c.layers(), c.kvHeads(), c.headDim(), DType.F32, blockSize);
        int perLayer = base.perLayer();
        DeviceBudget withDigests;
        try {
            withDigests = base.withDigests(hostRead, c.layers(), promptTokens + maxNewTokens, blockSize,
                    hostRead.digestBytesPerBlock(c.kvHeads(), c.headDim(), blockSize), layout.blockBytes());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(e.getMessage() + "; raise the budget, keep smaller digests (" + HostRead.SMALL + ": "
                    + HostRead.SMALL.digestBytesPerBlock(c.kvHeads(), c.headDim(), blockSize) + " bytes a block) or read the host tier"
                    + " exactly", e);
        }
        this.digestReserveBytes = withDigests.digestBytes();
        int budgetTokens = withDigests.tokens();
        int deviceBlocks = withDigests.blocks();
        this.budgetTokens = budgetTokens;
        int chunkBlocks = chunk > 0 ? (chunk + blockSize - 1) / blockSize + 1 : 1;
        if (deviceBlocks / c.layers() < chunkBlocks) {
            throw new IllegalArgumentException("a budget of " + budgetTokens + " tokens (" + perLayer + " blocks per layer) cannot hold a"
                    + " prompt chunk of " + chunk + " tokens; raise the budget or lower the chunk");
        }
        this.deviceBlocks = deviceBlocks;
        int hostBlocks = c.layers() * (layout.blocksFor(promptTokens + maxNewTokens) + 2);
        this.policy = policy;
        this.tiers = TierManager.create(TierConfig.cpu(layout, deviceBlocks, hostBlocks));
        try {
            this.sequence = tiers.open(policy, withDigests.context(c.layers(), promptTokens), deviceBlocks, withDigests.hostBlocks(hostBudget));
            this.decoder = new TieredDecoder(weights, tiers);
            decoder.hostRead(hostRead);
        } catch (RuntimeException e) {
            tiers.close();
            throw e;
        }
    }

    /** Generates; see {@link Generator#generate}. */
    public GenerationResult generate(int[] prompt, int maxTokens, PrefillMode mode, int chunk, Sampler sampler, int eosId,
                                     IntConsumer onToken, Generator.StepObserver observer) {
        GenerationResult g = new Generator(decoder).generate(sequence, policy, prompt, maxTokens, mode, chunk, sampler, eosId,
                onToken, observer, remote);
        tiers.awaitCopies();
        return g;
    }

    /**
     * Makes {@link #generate} load the prompt's prefix from {@code tier} and offer and spill its blocks there
     * (see {@link RemotePrefill}); call before generating. The tier stays the caller's to close.
     */
    public RemotePrefill useRemote(RemoteKvTier tier) {
        remote = new RemotePrefill(tier, tiers);
        return remote;
    }

    /** The remote tier's use by this session, or null without one. */
    public RemotePrefill remote() {
        return remote;
    }

    public TierManager tiers() {
        return tiers;
    }

    public Sequence sequence() {
        return sequence;
    }

    public TieredDecoder decoder() {
        return decoder;
    }

    /** The budget in tokens each layer may keep (baselines) or keep on the device (hierarchical). */
    public int budgetTokens() {
        return budgetTokens;
    }

    /** Device bytes the budget set aside for block digests (digest mode), before any KV was placed. */
    public long digestReserveBytes() {
        return digestReserveBytes;
    }

    /** Device arena slots: whole blocks per layer times layers. */
    public int deviceBlocks() {
        return deviceBlocks;
    }

    @Override
    public void close() {
        try {
            sequence.close();
        } finally {
            tiers.close();
        }
    }
}

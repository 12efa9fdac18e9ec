package io.tierkv.model.cuda;

import io.tierkv.core.DType;
import io.tierkv.cuda.ops.LaunchPlans;
import io.tierkv.cuda.ops.PagedKvShape;
import io.tierkv.cuda.ops.RopeTables;
import io.tierkv.cuda.popularity.PopularityKernel;
import io.tierkv.model.generate.DeviceBudget;
import io.tierkv.model.generate.GenerationResult;
import io.tierkv.model.generate.HostRead;
import io.tierkv.model.generate.HostReadStats;
import io.tierkv.model.generate.RemotePrefill;
import io.tierkv.model.generate.Sampler;
import io.tierkv.model.llama.LlamaConfig;
import io.tierkv.tiering.remote.RemoteKvTier;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.function.IntConsumer;

/**
 * A Llama decoder that runs every step on the GPU, without libtorch: the weights uploaded once in their checkpoint
 * dtype ({@link DeviceWeights}), K and V appended to paged device blocks in the KV dtype ({@link PagedKvCache}), and
 * per token, all on one stream:
 *
 * <pre>
 *   h = embed[token]
 *   per layer:  xn = rmsnorm(h);  q, k, v = Wq xn + bq, Wk xn + bk, Wv xn + bv;  rope(q, k, position)
 *               append k, v to the block table;  attn = paged attention of q over the sequence's blocks (evict mask)
 *               h = Wo attn + h (+ bo);  xn = rmsnorm(h);  h = Wdown (silu(Wgate xn) * Wup xn) + h
 *   logits = Wlm rmsnorm(h);  next = argmax(logits)      (4 bytes cross to the host per step)
 * </pre>
 *
 * Activations and accumulation are fp32 ({@link StepLayout}). Prefill runs the prompt in chunks ({@link ChunkLayout}: one
 * GEMM per projection over the chunk's rows, so one weight pass per chunk rather than per token) where the KV store allows,
 * token by token elsewhere. One sequence at a time; not thread-safe. The libtorch CPU
 * decoder is the oracle ({@code CudaDecoderGpuTest} holds this one to its fixture).
 */
public final class CudaDecoder implements AutoCloseable {
    private final LlamaConfig c;
    private final StepDevice device;
    private final DeviceWeights weights;
    private final KvStore cache;
    private final StepLayout at;
    private final long act;              // StepLayout: the step's activations
    private final long cos;              // [maxTokens][headDim / 2] fp32
    private final long sin;              // [maxTokens][headDim / 2] fp32
    private final ByteBuffer token = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN); // the argmax, read back
    private final int maxTokens;
    private final float scale;
    private final float eps;
    private final boolean fusedQkv;      // q, k, v in one GEMV (stacked weights, contiguous outputs)
    private final boolean fusedGateUp;   // gate and up in one GEMV
    private final boolean fusedNorms;    // RMSNorm folded into the GEMVs after it, RoPE and SiLU into their epilogues
    private final ChunkLayout chunk;     // prefill chunks' activations, null when the prompt goes token by token
    private final long chunkAct;         // ChunkLayout: a chunk's activations, 0 without
    private final CapturableKvStore capturable; // the cache, when its steps can be captured, else null
    private final long params;           // i32 [layers] {position, row, slot, token}: what a captured step reads on the device
    private final ByteBuffer paramBytes;
    private final StepGraphs graphs;     // the captured steps (-Dtierkv.cudaGraphs), by the store's capture key
    private final StepPhases phases = new StepPhases();
    private OpTimes opTimes;             // -Dtierkv.opTimes: each device operation timed; null when off
    private long chunkedTokens;          // prompt tokens prefilled in chunks
    private RemoteLoad remoteLoad;       // the prompt looked up in a remote tier for the next prefill, and what it loaded; or null
    private boolean closed;

    /** Takes {@code device} (closed with this, or now if construction fails). */
    private CudaDecoder(LlamaConfig config, WeightPlan plan, int maxTokens, int blockSize, DType kvDtype, StepDevice device,
                        KvStores stores, boolean fuseNorms, boolean useGraphs, int prefillRows) {
        this.c = config;
        this.device = device;
        this.maxTokens = maxTokens;
        this.scale = (float) (1.0 / Math.sqrt(c.headDim()));
        this.eps = (float) c.rmsNormEps();
        this.at = StepLayout.of(c);
        KvStore store = null;
        try {
            PagedKvShape shape = PagedKvShape.dense(kvDtype, c.heads(), c.kvHeads(), c.headDim(), blockSize);
            this.weights = DeviceWeights.upload(plan, device);
            DeviceWeights.Layer first = weights.layers[0];
            boolean biasesStacked = first.bqkv() != 0 || (first.bq() == 0 && first.bk() == 0 && first.bv() == 0);
            this.fusedQkv = first.wqkv() != null && biasesStacked && at.qkvContiguous(c);
            this.fusedGateUp = first.wGateUp() != null && at.gateUpContiguous(c);
            this.fusedNorms = fuseNorms && fusedQkv && fusedGateUp;
            store = stores.open(device, shape, c.layers(), maxTokens);
            this.cache = store;
            this.act = device.alloc(at.bytes());
            this.paramBytes = ByteBuffer.allocate(16 * c.layers()).order(ByteOrder.LITTLE_ENDIAN);
            this.params = device.alloc(paramBytes.capacity());
            int rows = Math.min(prefillRows, maxTokens);
            this.chunk = rows >= 2 ? ChunkLayout.of(c, rows) : null;
            this.chunkAct = chunk != null ? device.alloc(chunk.bytes()) : 0;
            this.capturable = store instanceof CapturableKvStore k ? k : null;
            this.graphs = new StepGraphs(device, useGraphs && fusedNorms && capturable != null);
            float[][] cs = ropeTables(c, maxTokens);
            this.cos = upload(cs[0]);
            this.sin = upload(cs[1]);
        } catch (RuntimeException | Error e) {
            try {
                if (store != null) {
                    store.close();
                }
                device.close();
            } catch (RuntimeException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    /**
     * Loads {@code dir}'s checkpoint onto GPU 0 (or its host mirror with {@code -Dtierkv.hostMirror=true},
     * {@link #hostMirrorConfigured}).
     *
     * @param maxTokens the most tokens (prompt + generated) the sequence may reach: sizes the KV slabs and RoPE tables
     * @param blockSize tokens per KV block
     * @param kvDtype   the KV blocks' element type, or null for the model's (its projections' checkpoint dtype)
     */
    public static CudaDecoder load(Path dir, int maxTokens, int blockSize, DType kvDtype) {
        return load(dir, maxTokens, blockSize, kvDtype, cudaGraphsConfigured(), hostMirrorConfigured());
    }

    /**
     * As {@link #load(Path, int, int, DType)} with each step replayed from a captured CUDA graph or not, whatever
     * {@link #cudaGraphsConfigured} says ({@code onHost}: on the host mirror of the device, as {@link #loadOnHost}).
     */
    public static CudaDecoder load(Path dir, int maxTokens, int blockSize, DType kvDtype, boolean cudaGraphs, boolean onHost) {
        return load(dir, maxTokens, blockSize, kvDtype, onHost ? HostStepDevice::new : CudaStepDevice::new, KvStores.PAGED,
                fusedKernelsConfigured(), cudaGraphs);
    }

    /**
     * The same decoder on the host mirror of the device ({@code HostStepDevice}: heap memory, cuda-kernels' Java oracles
     * as kernels): slow, for small models; it runs this class's exact orchestration where no GPU is, for tests and for
     * telling a kernel bug from an orchestration bug.
     */
    public static CudaDecoder loadOnHost(Path dir, int maxTokens, int blockSize, DType kvDtype) {
        return load(dir, maxTokens, blockSize, kvDtype, HostStepDevice::new, KvStores.PAGED);
    }

    /**
     * Loads {@code dir}'s checkpoint onto GPU 0 with its KV cache in tiering's tiers: a CUDA {@code TierManager} whose
     * device tier holds {@code deviceBlocksPerLayer} blocks per layer (the tail included) and whose host tier (pinned,
     * read by the same attention kernel over mapped memory) holds the rest; policy {@code full}, so placement alone moves
     * blocks, and the two parts are merged exactly: the output equals {@link #load}'s.
     */
    public static CudaDecoder loadTiered(Path dir, int maxTokens, int blockSize, int deviceBlocksPerLayer) {
        return loadTiered(dir, maxTokens, blockSize, deviceBlocksPerLayer, "full", null, HostRead.EXACT);
    }

    /**
     * As {@link #loadTiered(Path, int, int, int)} with the KV policy {@code policySpec} (as {@code Policies.create} reads it,
     * a fresh instance per sequence; the KV blocks in {@code kvDtype}, null for the model's). When the policy observes
     * attention ({@code hierarchical}, the paper's), every decode step's head-summed probabilities per layer go to the
     * popularity top-k on the device, and only the k positions per layer come back, to the sequence's
     * {@code observeSelected}; its windows close at {@code step()} and the placement moves blocks between the tiers. At
     * prefill, the prompt's last rows' attention (the rows the policy reads, {@code snapkv}'s window and {@code h2o}'s every
     * row, and the queries that seed the placement) comes back to the host as the CPU's dense prefill computes it.
     *
     * @throws IllegalArgumentException for an unknown spec
     */
    public static CudaDecoder loadTiered(Path dir, int maxTokens, int blockSize, int deviceBlocksPerLayer, String policySpec,
                                         DType kvDtype) {
        return loadTiered(dir, maxTokens, blockSize, deviceBlocksPerLayer, policySpec, kvDtype, HostRead.EXACT);
    }

    /**
     * As {@link #loadTiered(Path, int, int, int, String, DType)}, decode steps reading the host tier as {@code hostRead}
     * says: with {@code digest}, every block's digest is computed on the device when it fills, and per step and layer
     * only the host blocks whose digest bounds rank highest are read by attention ({@link #hostReadStats()} counts them).
     */
    public static CudaDecoder loadTiered(Path dir, int maxTokens, int blockSize, int deviceBlocksPerLayer, String policySpec,
                                         DType kvDtype, HostRead hostRead) {
        return loadTiered(dir, maxTokens, blockSize, deviceBlocksPerLayer, policySpec, kvDtype, hostRead, hostMirrorConfigured());
    }

    /**
     * As {@link #loadTiered(Path, int, int, int, String, DType, HostRead)}, on GPU 0 or, with {@code hostMirror}, on the host
     * mirror of the device (tests, and machines without a GPU that want this decoder's exact orchestration).
     */
    public static CudaDecoder loadTiered(Path dir, int maxTokens, int blockSize, int deviceBlocksPerLayer, String policySpec,
                                         DType kvDtype, HostRead hostRead, boolean hostMirror) {
        io.tierkv.core.policy.Policies.create(policySpec); // a bad spec fails before any device work
        return loadTiered(dir, maxTokens, blockSize, deviceBlocksPerLayer, () -> io.tierkv.core.policy.Policies.create(policySpec),
                kvDtype, hostRead, hostMirror);
    }

    /**
     * As {@link #loadTiered(Path, int, int, int, String, DType, HostRead, boolean)} with each step replayed from a captured
     * CUDA graph or not, whatever {@link #cudaGraphsConfigured} says.
     */
    public static CudaDecoder loadTiered(Path dir, int maxTokens, int blockSize, int deviceBlocksPerLayer, String policySpec,
                                         DType kvDtype, HostRead hostRead, boolean hostMirror, boolean cudaGraphs) {
        io.tierkv.core.policy.Policies.create(policySpec); // a bad spec fails before any device work
        return loadTiered(dir, maxTokens, blockSize, deviceBlocksPerLayer, () -> io.tierkv.core.policy.Policies.create(policySpec),
                kvDtype, hostRead, hostMirror, cudaGraphs);
    }

    /**
     * As above with the policy of every sequence from {@code policies} (called once more up front, to learn whether the
     * policy observes attention and its k): for a caller that wraps the policy, as {@code trace record} does.
     */
    public static CudaDecoder loadTiered(Path dir, int maxTokens, int blockSize, int deviceBlocksPerLayer,
                                         java.util.function.Supplier<io.tierkv.core.policy.KvPolicy> policies, DType kvDtype,
                                         HostRead hostRead, boolean hostMirror) {
        return loadTiered(dir, maxTokens, blockSize, deviceBlocksPerLayer, policies, kvDtype, hostRead, hostMirror, cudaGraphsConfigured());
    }

    /** As above, with each step replayed from a captured CUDA graph or not, whatever {@link #cudaGraphsConfigured} says. */
    public static CudaDecoder loadTiered(Path dir, int maxTokens, int blockSize, int deviceBlocksPerLayer,
                                         java.util.function.Supplier<io.tierkv.core.policy.KvPolicy> policies, DType kvDtype,
                                         HostRead hostRead, boolean hostMirror, boolean cudaGraphs) {
        io.tierkv.cuda.driver.Backend backend = hostMirror ? io.tierkv.cuda.driver.Backend.CPU : io.tierkv.cuda.driver.Backend.CUDA;
        return load(dir, maxTokens, blockSize, kvDtype, hostMirror ? HostStepDevice::new : CudaStepDevice::new,
                KvStores.tiered(backend, deviceBlocksPerLayer, policies, hostRead), fusedKernelsConfigured(), cudaGraphs);
    }

    /**
     * Whether the decoders the command line loads run on the host mirror of the device instead of GPU 0
     * ({@code -Dtierkv.hostMirror=true}; default off): {@code --backend cuda} then runs this class's exact orchestration
     * with cuda-kernels' Java oracles as kernels and tiering's CPU tiers, where no GPU is. Slow, and it measures nothing
     * about a GPU: for trying the CUDA paths end to end (the GPU check's {@code --host-mirror} does the same).
     */
    public static boolean hostMirrorConfigured() {
        return "true".equalsIgnoreCase(System.getProperty("tierkv.hostMirror", "false").trim());
    }

    /**
     * Whether decoders fold each RMSNorm into the GEMV after it and RoPE and SiLU into their GEMVs' epilogues (four GEMV
     * launches per layer instead of nine launches): {@code -Dtierkv.fusedKernels=false} turns it off (default on).
     */
    public static boolean fusedKernelsConfigured() {
        return !"false".equalsIgnoreCase(System.getProperty("tierkv.fusedKernels", "true").trim());
    }

    /**
     * Whether decoders replay each decode step from a captured graph (one CUDA graph launch per token instead of a launch
     * per kernel): with every KV block on the device ({@link #load}) captured again when the sequence's block count passes a
     * power of two, for the attention's plan, or it starts evicting; tiered ({@link #loadTiered}) whenever a part's block
     * count or masks change (a block opens, blocks move), with the steps that read back mid-step (prompt rows, the host tier
     * attended on the CPU, whole-block digest choices, a digest computed as a block fills) run launch by launch.
     * {@code -Dtierkv.cudaGraphs=true} turns it on (default off until the GPU check has measured it). It needs the fused
     * kernels.
     */
    public static boolean cudaGraphsConfigured() {
        return "true".equalsIgnoreCase(System.getProperty("tierkv.cudaGraphs", "false").trim());
    }

    /**
     * The most prompt tokens a decoder's prefill runs as one chunk ({@link #prefill}: each weight matrix streamed once per
     * chunk, by a GEMM, instead of once per token): {@code -Dtierkv.prefillChunk=N} (default 64; 1 runs the prompt token by
     * token).
     *
     * @throws IllegalArgumentException when the property is not a positive integer
     */
    public static int prefillChunkConfigured() {
        String value = System.getProperty("tierkv.prefillChunk", "64").trim();
        try {
            int rows = Integer.parseInt(value);
            if (rows >= 1) {
                return rows;
            }
        } catch (NumberFormatException e) {
            // the message below names the property
        }
        throw new IllegalArgumentException("-Dtierkv.prefillChunk must be a positive number of tokens, was '" + value + "'");
    }

    /** As {@link #load(Path, int, int, DType)} on the device {@code devices} opens, once every check has passed. */
    static CudaDecoder load(Path dir, int maxTokens, int blockSize, DType kvDtype, java.util.function.Supplier<StepDevice> devices,
                            KvStores stores) {
        return load(dir, maxTokens, blockSize, kvDtype, devices, stores, fusedKernelsConfigured(), cudaGraphsConfigured());
    }

    /**
     * As above, with the fused kernels ({@link #fusedKernelsConfigured}) and the captured steps ({@link #cudaGraphsConfigured})
     * on or off.
     */
    static CudaDecoder load(Path dir, int maxTokens, int blockSize, DType kvDtype, java.util.function.Supplier<StepDevice> devices,
                            KvStores stores, boolean fuseNorms, boolean graphs) {
        return load(dir, maxTokens, blockSize, kvDtype, devices, stores, fuseNorms, graphs, prefillChunkConfigured());
    }

    /** As above, prefilling up to {@code prefillRows} prompt tokens per chunk ({@link #prefillChunkConfigured}). */
    static CudaDecoder load(Path dir, int maxTokens, int blockSize, DType kvDtype, java.util.function.Supplier<StepDevice> devices,
                            KvStores stores, boolean fuseNorms, boolean graphs, int prefillRows) {
        if (prefillRows < 1) {
            throw new IllegalArgumentException("prefillRows must be >= 1, was " + prefillRows);
        }
        LlamaConfig config = LlamaConfig.readDir(dir);
        check(config, maxTokens, blockSize);
        WeightPlan plan = WeightPlan.of(dir, config);
        DType kv = kvDtype != null ? kvDtype : plan.modelDtype();
        PagedKvShape.dense(kv, config.heads(), config.kvHeads(), config.headDim(), blockSize); // its checks, before any device work
        OpTimes times = OpTimes.configured() ? new OpTimes() : null;
        StepDevice device = devices.get();
        CudaDecoder decoder = new CudaDecoder(config, plan, maxTokens, blockSize, kv, times == null ? device : times.wrap(device), stores,
                fuseNorms, graphs && times == null, prefillRows);
        decoder.opTimes = times;
        return decoder;
    }

    /**
     * The layout of the KV blocks a decoder of {@code dir}'s checkpoint keeps in its tiers: blocks of {@code blockSize}
     * tokens in {@code kvDtype}, or with null the checkpoint's dtype as {@link #loadTiered} resolves it (what a remote tier
     * shared with these decoders must be opened for).
     */
    public static io.tierkv.core.KvLayout kvLayout(Path dir, int blockSize, DType kvDtype) {
        LlamaConfig config = LlamaConfig.readDir(dir);
        DType kv = kvDtype != null ? kvDtype : WeightPlan.of(dir, config).modelDtype();
        return new io.tierkv.core.KvLayout(config.layers(), config.kvHeads(), config.headDim(), kv, blockSize);
    }

    /** What this decoder cannot run, as one clear error. */
    static void check(LlamaConfig c, int maxTokens, int blockSize) {
        if (maxTokens < 1) {
            throw new IllegalArgumentException("maxTokens must be >= 1, was " + maxTokens);
        }
        if (maxTokens > c.maxPositions()) {
            throw new IllegalArgumentException("maxTokens " + maxTokens + " exceeds the model's max_position_embeddings " + c.maxPositions());
        }
        if (blockSize < 1) {
            throw new IllegalArgumentException("blockSize must be >= 1, was " + blockSize);
        }
        if (c.headDim() % 8 != 0 || c.headDim() > LaunchPlans.MAX_HEAD_DIM) { // the paged attention reads rows as 16-byte vectors
            throw new IllegalArgumentException("the CUDA decoder's attention needs a head dim that is a multiple of 8 and at most "
                    + LaunchPlans.MAX_HEAD_DIM + "; the model's is " + c.headDim() + " (hidden size " + c.hiddenSize() + " / "
                    + c.heads() + " heads): run it with --backend cpu");
        }
        if (c.heads() > PopularityKernel.MAX_HEADS) {
            throw new IllegalArgumentException("the CUDA decoder's popularity top-k sums at most " + PopularityKernel.MAX_HEADS
                    + " heads; the model has " + c.heads() + ": run it with --backend cpu");
        }
        if (c.slidingWindow() > 0 && maxTokens > c.slidingWindow()) {
            throw new IllegalArgumentException("the model attends over a sliding window of " + c.slidingWindow() + " tokens; windowed"
                    + " attention is not implemented: keep prompt + max tokens (" + maxTokens + ") within it");
        }
    }

    /** {cos, sin} {@code [rows][headDim / 2]} from the (llama3-scaled) inverse frequencies, as the CPU decoder's Rope. */
    static float[][] ropeTables(LlamaConfig c, int rows) {
        double[] inv = RopeTables.invFreq(c.headDim(), c.ropeTheta());
        LlamaConfig.RopeScaling s = c.ropeScaling();
        if (s != null) {
            inv = RopeTables.llama3InvFreq(inv, s.factor(), s.lowFreqFactor(), s.highFreqFactor(), s.originalMaxPositions());
        }
        return RopeTables.tables(inv, rows);
    }

    private long upload(float[] values) {
        ByteBuffer b = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(values);
        long address = device.alloc(b.capacity());
        device.upload(address, b);
        return address;
    }

    public LlamaConfig config() {
        return c;
    }

    /** Tokens in the cache: the position the next {@link #step} writes. */
    public int position() {
        return cache.tokens();
    }

    /** The KV blocks' element type. */
    public DType kvDtype() {
        return cache.shape().dtype();
    }

    /** Device bytes of the weights. */
    public long weightBytes() {
        return weights.bytes;
    }

    /**
     * The tiers' statistics (bytes moved each way, peaks) when the KV cache is tiered ({@link #loadTiered}), else null.
     */
    public io.tierkv.tiering.TierStats tierStats() {
        return cache instanceof TieredKvStore t ? t.tiers().stats() : null;
    }

    /** {device, host} blocks of the current sequence when tiered, else {blocks, 0}. */
    public int[] residency() {
        return cache instanceof TieredKvStore t ? t.residency() : new int[] {KvBlockTable.blocksFor(cache.tokens(), cache.shape().blockSize())
                * c.layers(), 0};
    }

    /** The positions the popularity top-k selected per layer at the last observed step (tiered with an observing policy), else null. */
    int[][] lastSelected() {
        return cache instanceof TieredKvStore t ? t.lastSelected() : null;
    }

    /**
     * Host blocks read against an exact read's at decode steps when tiered ({@link HostReadStats#fraction()}: the share of
     * the host bytes an exact read would read; 1 in exact mode), else null.
     */
    public HostReadStats hostReadStats() {
        return cache instanceof TieredKvStore t ? t.readStats() : null;
    }

    /** Where the host tier's blocks are attended ({@code -Dtierkv.hostAttention}) when tiered, else null. */
    public HostAttention hostAttention() {
        return cache instanceof TieredKvStore t ? t.hostAttention() : null;
    }

    /** Device bytes of the block digests when tiered with {@code --host-read digest}, else 0. */
    public long digestBytes() {
        return cache instanceof TieredKvStore t ? t.digestBytes() : 0;
    }

    /** The tiered KV cache's sequence (its residency, levels and kept tokens) when tiered, else null. */
    public io.tierkv.tiering.Sequence sequence() {
        return cache instanceof TieredKvStore t ? t.sequence() : null;
    }

    /** Device blocks per layer of the tiered store's arena (the most {@link #reset} may budget per layer), else 0. */
    public int deviceBlocksPerLayer() {
        return cache instanceof TieredKvStore t ? t.tiers().deviceCapacityBlocks() / c.layers() : 0;
    }

    /** The most tokens a sequence may reach (the KV slabs and RoPE tables end there). */
    public int maxTokens() {
        return maxTokens;
    }

    /** The tiers when the KV cache is tiered, else null. */
    public io.tierkv.tiering.TierManager tierManager() {
        return cache instanceof TieredKvStore t ? t.tiers() : null;
    }

    /**
     * Forgets the sequence and starts the next one under its own budget (tiered only): the policy sees {@code context}
     * (prompt length, tokens it may keep per layer), the placement {@code deviceBudgetBlocks} device blocks over all layers
     * (at most the arena's) and {@code hostBudgetBlocks} host blocks; the host-read counts ({@link #hostReadStats}) restart.
     * The weights and buffers stay.
     *
     * @throws IllegalStateException    when the KV cache is not tiered
     * @throws IllegalArgumentException when the device budget exceeds the arena this decoder was loaded with
     */
    public void reset(io.tierkv.core.policy.PolicyContext context, int deviceBudgetBlocks, int hostBudgetBlocks) {
        ensureOpen();
        if (!(cache instanceof TieredKvStore t)) {
            throw new IllegalStateException("a per-sequence budget needs the tiered KV cache (CudaDecoder.loadTiered)");
        }
        remoteLoad = null;
        t.reset(context, deviceBudgetBlocks, hostBudgetBlocks);
    }

    /**
     * Chunked prefill of a prompt of {@code length} tokens into the empty sequence, fed by the caller through
     * {@link #advance} (the policy observing every row and stepping per token, as the CPU's chunked mode does), then
     * {@link #endPrefill}.
     */
    public void beginChunkedPrefill(int length) {
        ensureOpen();
        if (length < 1) {
            throw new IllegalArgumentException("the prompt is empty");
        }
        if (remoteLoad != null && (!remoteLoad.chunked() || remoteLoad.prompt().length != length)) {
            throw new IllegalStateException("a chunked prefill of " + length + " tokens after " + remoteLoad + ": reset first");
        }
        cache.beginPrefill(length, true);
        remoteLoad = null;
    }

    /** A prompt looked up in a remote tier before prefill ({@link #loadRemotePrefix}): its leading {@code tokens} are loaded. */
    private record RemoteLoad(int[] prompt, int tokens, boolean chunked) {
        @Override
        public String toString() {
            return "a remote lookup of a " + prompt.length + "-token prompt for " + (chunked ? "chunked" : "paper") + " prefill ("
                    + tokens + " tokens loaded)";
        }
    }

    /**
     * Before prefill (tiered only, into the empty sequence): looks {@code prompt} up in {@code remote}'s tier and loads its
     * leading full blocks found there into the KV cache, leaving to prefill at least the rows a dense prefill reads (or, with
     * {@code chunked}, what chunked prefill needs: {@link RemotePrefill#rowsToCompute}); returns the tokens loaded. A
     * following {@link #prefill} computes only the rest, attending to the loaded blocks; after {@link #beginChunkedPrefill}
     * the caller feeds {@code prompt} from the returned position. The blocks prefill computes are offered with
     * {@link RemotePrefill#offerWritten} after {@link #endPrefill}, and a prompt block the tiers free is offered first.
     */
    public int loadRemotePrefix(RemotePrefill remote, int[] prompt, boolean chunked) {
        ensureOpen();
        if (!(cache instanceof TieredKvStore t)) {
            throw new IllegalStateException("the remote tier loads into the tiered KV cache (CudaDecoder.loadTiered)");
        }
        if (remote.tiers() != t.tiers()) {
            throw new IllegalArgumentException("the remote prefill was made for other tiers than this decoder's");
        }
        if (position() != 0 || remoteLoad != null) {
            throw new IllegalStateException("a remote prefix loads into an empty sequence before prefill; reset first");
        }
        boolean neutral = RemotePrefill.placementNeutral(t.sequence(), t.hostRead());
        int compute = RemotePrefill.rowsToCompute(t.sequence().policy(), prompt.length, !chunked, neutral);
        // Paper mode: the prefix ends on the grid of the prefill's chunks and goes in in those chunks, so the placement sees
        // the appends a prefill from the start makes (the same residency, whatever the host read). Without such a grid
        // (chunks that end inside blocks; token by token) that holds only where residency changes no output. A bounded host
        // tier frees nothing before the prompt's end (Sequence.holdHostBudgetUntilEndPrefill, from the first loaded block on), so
        // every row attends every earlier token, as the store's blocks were computed.
        int grid = chunked || chunk == null ? 0 : t.prefillGrid(chunk.rows());
        if (!chunked && grid == 0 && !neutral) {
            compute = prompt.length;
        }
        if (!chunked) {
            t.sequence().holdHostBudgetUntilEndPrefill();
        }
        int tokens = t.loadRemote(remote, prompt, compute, grid == 0 ? 1 : grid / cache.shape().blockSize());
        remoteLoad = new RemoteLoad(prompt.clone(), tokens, chunked); // the sequence is this prompt's now: its blocks are offered under its hashes
        return tokens;
    }

    /**
     * The remote tier's use by one prompt over this decoder's tiers (tiered only): {@link #loadRemotePrefix} before prefill,
     * {@link RemotePrefill#offerWritten} after it, spills as the tiers free prompt blocks. The tier stays the caller's.
     */
    public RemotePrefill remotePrefill(RemoteKvTier tier) {
        ensureOpen();
        if (!(cache instanceof TieredKvStore t)) {
            throw new IllegalStateException("the remote tier needs the tiered KV cache (CudaDecoder.loadTiered)");
        }
        return new RemotePrefill(tier, t.tiers());
    }

    /**
     * {@code budget} with this decoder's block digests (tiered with {@code --host-read digest}) for a sequence of up to
     * {@code maxTokens} tokens taken out of it, in this decoder's KV slots ({@link DeviceBudget#withDigests}); unchanged in
     * exact mode or untiered.
     */
    public DeviceBudget withDigests(DeviceBudget budget, int maxTokens) {
        if (!(cache instanceof TieredKvStore t) || !t.hostRead().digest()) {
            return budget;
        }
        HostRead read = t.hostRead();
        return budget.withDigests(read, c.layers(), maxTokens, cache.shape().blockSize(),
                read.digestBytesPerBlock(c.kvHeads(), c.headDim(), cache.shape().blockSize()),
                t.tiers().slotBytes());
    }

    /** The prompt is in: the tiers run the policy's end of prefill; from the next step on, attention is observed. */
    public void endPrefill() {
        ensureOpen();
        cache.endPrefill();
    }

    /**
     * A token after the prompt (generated, or a later prompt chunk's) through the model and then the policy's step, as
     * {@link #generate} does per new token; returns the greedy next token ({@link #logits()} holds its logits).
     */
    public int advance(int token) {
        int next = step(token);
        stepStore();
        return next;
    }

    /** The store's step after a token's ({@link KvStore#step}), timed as {@link StepPhases.Phase#STEP}. */
    private void stepStore() {
        long t0 = System.nanoTime();
        cache.step();
        phases.add(StepPhases.Phase.STEP, System.nanoTime() - t0);
        phases.stepEnded();
    }

    /**
     * Where the decode steps' host time went: summed over the last {@link #generate}'s generated tokens (cleared when its
     * prompt is in), or, for a caller of {@link #advance}, since it cleared them.
     */
    public StepPhases stepPhases() {
        return phases;
    }

    /**
     * With {@code -Dtierkv.opTimes=true} ({@link OpTimes}), the device operations of the last {@link #generate}'s decode
     * steps by time per token; null when off.
     */
    public String opTimesReport() {
        return opTimes == null ? null : opTimes.report(phases.steps());
    }

    /** Whether this decoder's steps run the fused norm GEMVs ({@link #fusedKernelsConfigured}). */
    public boolean fusedKernels() {
        return fusedNorms;
    }

    /** Whether this decoder's steps are replayed from captured graphs ({@link #cudaGraphsConfigured}). */
    public boolean cudaGraphs() {
        return graphs.enabled();
    }

    /** Prompt tokens this decoder prefilled in chunks ({@link #prefill}) rather than through the decode step, over its life. */
    public long chunkedPrefillTokens() {
        return chunkedTokens;
    }

    /** The most prompt tokens one prefill chunk holds; 1 when the prompt goes token by token. */
    public int prefillChunkRows() {
        return chunk == null ? 1 : chunk.rows();
    }

    /** Graphs captured so far (one per capture key, again after they went stale). */
    public int graphCaptures() {
        return graphs.captures();
    }

    /** Steps run by launching a captured graph. */
    public long graphLaunches() {
        return graphs.launches();
    }

    /** The tiered store, or null. */
    TieredKvStore tieredStore() {
        return cache instanceof TieredKvStore t ? t : null;
    }

    /** Device bytes of the KV slabs and their tables. */
    public long kvBytes() {
        return cache.bytes();
    }

    /**
     * Runs one token through the model at the next position (its K and V join the cache) and returns the greedy next
     * token; {@link #logits()} then holds this step's logits.
     */
    public int step(int token) {
        ensureOpen();
        if (token < 0 || token >= c.vocabSize()) {
            throw new IllegalArgumentException("token id " + token + " is outside the vocabulary of " + c.vocabSize());
        }
        if (position() >= maxTokens) {
            throw new IllegalStateException("the sequence is at its maxTokens " + maxTokens + " (the KV slabs and RoPE tables end there)");
        }
        long t0 = System.nanoTime();
        int position = cache.append();
        long t1 = System.nanoTime();
        long t2;
        long t3;
        long waited;
        try {
            if (graphs.enabled()) {
                graphedStep(token, position);
            } else {
                device.embed(act + at.h(), weights.embed, token);
                for (int l = 0; l < c.layers(); l++) {
                    layer(l, position, false);
                }
                head(); // queued before the store reads its top-k back, so that one wait covers the token's kernels too
            }
            t2 = System.nanoTime();
            cache.observe();
            waited = cache.takeWaitNanos();
            t3 = System.nanoTime();
            device.download(act + at.token(), this.token.clear());
        } catch (RuntimeException | Error e) {
            drain(e);
            throw e;
        }
        long t4 = System.nanoTime();
        phases.add(StepPhases.Phase.APPEND, t1 - t0);
        phases.add(StepPhases.Phase.LAUNCH, t2 - t1);
        phases.add(StepPhases.Phase.OBSERVE, t3 - t2 - waited);
        phases.add(StepPhases.Phase.DEVICE_WAIT, waited + t4 - t3);
        int next = this.token.getInt(0);
        if (next < 0 || next >= c.vocabSize()) {
            throw new IllegalStateException("the logits at position " + position + " hold no number (argmax returned " + next + ")");
        }
        return next;
    }

    /**
     * A step or chunk cut short by {@code e} may leave kernels queued that still write its rows into the blocks of the last
     * append: waits for them before the exception reaches the caller, whose next call may start copies of those blocks on the tiers' copy
     * streams (which the host orders after this stream, not events). A wait that fails too (a sticky fault) is added to
     * {@code e}.
     */
    private void drain(Throwable e) {
        try {
            device.synchronize();
        } catch (RuntimeException | Error wait) {
            e.addSuppressed(wait);
        }
    }

    /** The final norm, the LM head and the greedy token (at {@code at.token()}). */
    private void head() {
        head(act + at.h());
    }

    /** {@link #head()} of the residual stream row at {@code h}. */
    private void head(long h) {
        if (fusedNorms) {
            device.normGemv(act + at.logits(), weights.lmHead, h, weights.norm, eps, 0);
        } else {
            device.rmsNorm(act + at.xn(), h, weights.norm, c.hiddenSize(), eps);
            device.gemv(act + at.logits(), weights.lmHead, act + at.xn(), 0);
        }
        device.argmax(act + at.logits(), c.vocabSize(), act + at.token());
    }

    /**
     * A step through a captured graph ({@link StepGraphs}): the step's values go to {@code params} (one queued copy), then
     * the graph of the store's capture key runs. A step the store cannot have captured (no key) runs launch by launch.
     */
    private void graphedStep(int token, int position) {
        Object key = capturable.captureKey();
        if (key == null) {
            graphs.ranEagerly();
            device.embed(act + at.h(), weights.embed, token);
            for (int l = 0; l < c.layers(); l++) {
                layer(l, position, false);
            }
            head();
            return;
        }
        paramBytes.clear();
        for (int l = 0; l < c.layers(); l++) {
            paramBytes.putInt(position).putInt(position % cache.shape().blockSize()).putInt(capturable.slotIndex(l, position)).putInt(token);
        }
        device.upload(params, paramBytes.flip());
        if (graphs.run(key, this::stepBody)) { // a graph captured earlier: the capture ran the step's host-side bookkeeping
            capturable.replayed();
        }
    }

    /** The step as a graph holds it: its values read from {@code params} on the device. */
    private void stepBody() {
        device.embedAt(act + at.h(), weights.embed, params + 12);
        for (int l = 0; l < c.layers(); l++) {
            layer(l, 0, true);
        }
        head();
    }

    /** One layer at {@code position}, or with {@code fromParams} (a captured step) at the position {@code params} holds. */
    private void layer(int l, int position, boolean fromParams) {
        DeviceWeights.Layer w = weights.layers[l];
        long a = act;
        int d = c.hiddenSize();
        if (fromParams) { // as below, the position, row and slot read on the device
            device.normGemvRopeAt(a + at.q(), w.wqkv(), a + at.h(), w.attnNorm(), eps, w.bqkv(), c.heads(), c.kvHeads(), c.headDim(),
                    params + 16L * l, cos, sin, maxTokens, cache.shape(), capturable.slab(l));
        } else if (fusedNorms) { // one launch: norm, the stacked q, k, v matrices (q, k, v lie one after the other), RoPE, the KV append
            device.normGemvRope(a + at.q(), w.wqkv(), a + at.h(), w.attnNorm(), eps, w.bqkv(), c.heads(), c.kvHeads(), c.headDim(), position,
                    cos, sin, maxTokens, cache.shape(), cache.slot(l, position), position % cache.shape().blockSize());
            cache.written(l, position);
        } else {
            device.rmsNorm(a + at.xn(), a + at.h(), w.attnNorm(), d, eps);
            if (fusedQkv) { // one launch: the stacked matrices write q, k and v where they lie one after the other
                device.gemv(a + at.q(), w.wqkv(), a + at.xn(), w.bqkv());
            } else {
                device.gemv(a + at.q(), w.wq(), a + at.xn(), w.bq());
                device.gemv(a + at.k(), w.wk(), a + at.xn(), w.bk());
                device.gemv(a + at.v(), w.wv(), a + at.xn(), w.bv());
            }
            device.rope(a + at.q(), a + at.k(), c.heads(), c.kvHeads(), c.headDim(), position, cos, sin, maxTokens);
            cache.write(l, position, a + at.k(), a + at.v());
        }
        if (fromParams) {
            capturable.attendCaptured(l, a + at.q(), scale, a + at.attn(), a + at.lse());
        } else {
            cache.attend(l, a + at.q(), scale, a + at.attn(), a + at.lse());
        }
        device.gemv(a + at.h(), w.wo(), a + at.attn(), a + at.h());
        if (w.bo() != 0) {
            device.add(a + at.h(), a + at.h(), w.bo(), d);
        }
        if (fusedNorms) { // one launch: norm, the stacked gate and up matrices, silu(gate) * up
            device.normSwiGlu(a + at.gate(), w.wGateUp(), a + at.h(), w.mlpNorm(), eps);
        } else {
            device.rmsNorm(a + at.xn(), a + at.h(), w.mlpNorm(), d, eps);
            if (fusedGateUp) {
                device.gemv(a + at.gate(), w.wGateUp(), a + at.xn(), 0);
            } else {
                device.gemv(a + at.gate(), w.wGate(), a + at.xn(), 0);
                device.gemv(a + at.up(), w.wUp(), a + at.xn(), 0);
            }
            device.siluMul(a + at.gate(), a + at.gate(), a + at.up(), c.intermediateSize());
        }
        device.gemv(a + at.h(), w.wDown(), a + at.gate(), a + at.h());
    }

    /** The last step's logits ({@code [vocab]} fp32), copied to the host. */
    public float[] logits() {
        ensureOpen();
        ByteBuffer b = ByteBuffer.allocate(4 * c.vocabSize()).order(ByteOrder.LITTLE_ENDIAN);
        device.download(act + at.logits(), b);
        float[] out = new float[c.vocabSize()];
        b.asFloatBuffer().get(out);
        return out;
    }

    /**
     * Runs the prompt through the model and returns the greedy token after it ({@link #logits()} then holds the prompt's
     * last logits). Its tokens go in chunks of up to {@link #prefillChunkRows} rows, as far as the KV store allows
     * ({@link KvStore#chunkRows}; the tiered store keeps a chunk's blocks within the device budget and runs the rows whose
     * attention it reads token by token): per layer, each projection is one GEMM over the chunk's rows, and one attention launch per part has
     * each row attend the tokens up to its own. The rest goes through the decode step.
     */
    public int prefill(int[] ids) {
        ensureOpen();
        if (ids.length == 0) {
            throw new IllegalArgumentException("the prompt is empty");
        }
        if (remoteLoad != null && (remoteLoad.chunked() || !Arrays.equals(remoteLoad.prompt(), ids))) {
            throw new IllegalStateException("a prefill of another prompt than " + remoteLoad + ": reset first");
        }
        int from = remoteLoad == null ? 0 : remoteLoad.tokens();
        cache.beginPrefill(ids.length, false);
        remoteLoad = null;
        int next = -1;
        for (int i = from; i < ids.length; ) {
            int n = chunk == null ? 1 : cache.chunkRows(Math.min(chunk.rows(), ids.length - i));
            next = n > 1 ? chunk(ids, i, n) : step(ids[i]);
            i += n;
        }
        return next;
    }

    /** Tokens {@code ids[from .. from + n - 1]} through the model as one chunk at the next positions; returns the greedy next token. */
    private int chunk(int[] ids, int from, int n) {
        ByteBuffer b = ByteBuffer.allocate(4 * n).order(ByteOrder.LITTLE_ENDIAN);
        for (int t = from; t < from + n; t++) {
            if (ids[t] < 0 || ids[t] >= c.vocabSize()) {
                throw new IllegalArgumentException("token id " + ids[t] + " is outside the vocabulary of " + c.vocabSize());
            }
            b.putInt(ids[t]);
        }
        if (position() + n > maxTokens) {
            throw new IllegalStateException("the sequence is at its maxTokens " + maxTokens + " (the KV slabs and RoPE tables end there)");
        }
        device.upload(chunkAct + chunk.ids(), b.flip());
        int first = cache.append(n);
        try {
            device.embedRows(chunkAct + chunk.h(), weights.embed, chunkAct + chunk.ids(), n);
            for (int l = 0; l < c.layers(); l++) {
                chunkLayer(l, first, n);
            }
            head(chunkAct + chunk.h() + 4L * (n - 1) * c.hiddenSize());
            device.download(act + at.token(), this.token.clear());
        } catch (RuntimeException | Error e) {
            drain(e);
            throw e;
        }
        chunkedTokens += n;
        int next = this.token.getInt(0);
        if (next < 0 || next >= c.vocabSize()) {
            throw new IllegalStateException("the logits at position " + (first + n - 1) + " hold no number (argmax returned " + next + ")");
        }
        return next;
    }

    /** One layer over a chunk's {@code n} rows at positions {@code first ..}, as {@link #layer} runs each of them. */
    private void chunkLayer(int l, int first, int n) {
        DeviceWeights.Layer w = weights.layers[l];
        ChunkLayout k = chunk;
        long a = chunkAct;
        int d = c.hiddenSize();
        int qDim = c.heads() * c.headDim();
        int kvDim = c.kvHeads() * c.headDim();
        device.rmsNorm(a + k.xn(), a + k.h(), w.attnNorm(), n, d, eps);
        device.gemm(a + k.q(), w.wq(), a + k.xn(), 0, n);
        device.gemm(a + k.k(), w.wk(), a + k.xn(), 0, n);
        device.gemm(a + k.v(), w.wv(), a + k.xn(), 0, n);
        addBias(a + k.q(), w.bq(), qDim, n);
        addBias(a + k.k(), w.bk(), kvDim, n);
        addBias(a + k.v(), w.bv(), kvDim, n);
        device.rope(a + k.q(), a + k.k(), n, c.heads(), c.kvHeads(), c.headDim(), first, cos, sin, maxTokens);
        cache.writeRows(l, first, n, a + k.k(), a + k.v());
        cache.attendRows(l, first, n, a + k.q(), scale, a + k.attn(), a + k.lse());
        device.gemm(a + k.h(), w.wo(), a + k.attn(), a + k.h(), n);
        addBias(a + k.h(), w.bo(), d, n);
        device.rmsNorm(a + k.xn(), a + k.h(), w.mlpNorm(), n, d, eps);
        device.gemm(a + k.gate(), w.wGate(), a + k.xn(), 0, n);
        device.gemm(a + k.up(), w.wUp(), a + k.xn(), 0, n);
        device.siluMul(a + k.gate(), a + k.gate(), a + k.up(), n * c.intermediateSize());
        device.gemm(a + k.h(), w.wDown(), a + k.gate(), a + k.h(), n);
    }

    /** Adds {@code bias} ({@code [width]}, 0 for none) to each of the {@code n} rows at {@code rows}. */
    private void addBias(long rows, long bias, int width, int n) {
        if (bias == 0) {
            return;
        }
        for (int t = 0; t < n; t++) {
            device.add(rows + 4L * t * width, rows + 4L * t * width, bias, width);
        }
    }

    /** Marks the cached token at {@code position} evicted: attention skips it from the next step on. */
    public void evict(int position) {
        ensureOpen();
        cache.evict(position);
    }

    /** Forgets the sequence, keeping the weights and buffers for the next. */
    public void reset() {
        ensureOpen();
        remoteLoad = null;
        cache.reset();
        graphs.ranEagerly();
    }

    /**
     * Greedy generation from an empty cache: prefill, then up to {@code maxNew} tokens, stopping after {@code eosId}
     * (included, as the CPU {@code Generator} does). {@code onToken} sees each token as it comes (may be null).
     */
    public GenerationResult generate(int[] prompt, int maxNew, int eosId, IntConsumer onToken) {
        return generate(prompt, maxNew, eosId, null, onToken);
    }

    /**
     * Generation as above, each token picked by {@code sampler} from the logits copied to the host, or greedily on the
     * device when {@code sampler} is null.
     */
    public GenerationResult generate(int[] prompt, int maxNew, int eosId, Sampler sampler, IntConsumer onToken) {
        return generate(prompt, maxNew, eosId, sampler, onToken, false);
    }

    /**
     * Generation as above; with {@code chunked} (tiered only) the prompt streams in with the policy observing every row and
     * stepping per token ({@link #beginChunkedPrefill}). An empty sequence (fresh, or just {@link #reset(
     * io.tierkv.core.policy.PolicyContext, int, int) reset} to a budget) is used as it is; otherwise the cache is reset first.
     */
    public GenerationResult generate(int[] prompt, int maxNew, int eosId, Sampler sampler, IntConsumer onToken, boolean chunked) {
        return generate(prompt, maxNew, eosId, sampler, onToken, chunked, null);
    }

    /**
     * Generation as above; with {@code remote} (tiered only, {@link #remotePrefill}) the prompt's leading blocks that the
     * remote tier holds are loaded instead of computed ({@link #loadRemotePrefix}) and the blocks prefill computed are
     * offered to it after prefill.
     */
    public GenerationResult generate(int[] prompt, int maxNew, int eosId, Sampler sampler, IntConsumer onToken, boolean chunked,
                                     RemotePrefill remote) {
        if (maxNew < 1) {
            throw new IllegalArgumentException("max tokens must be > 0, was " + maxNew);
        }
        if ((long) prompt.length + maxNew - 1 > maxTokens) {
            throw new IllegalArgumentException(prompt.length + " prompt tokens + " + maxNew + " new ones exceed this decoder's maxTokens "
                    + maxTokens);
        }
        if (position() == 0 && remoteLoad != null) { // a lookup that loaded nothing: the sequence is empty, only its spill listener goes
            tieredStore().sequence().onFree(null);
            remoteLoad = null;
        }
        if (position() != 0) {
            reset();
        }
        if (prompt.length == 0) {
            throw new IllegalArgumentException("the prompt is empty");
        }
        long t0 = System.nanoTime();
        int from = remote == null ? 0 : loadRemotePrefix(remote, prompt, chunked);
        int greedy;
        if (chunked) {
            beginChunkedPrefill(prompt.length);
            greedy = -1;
            for (int i = from; i < prompt.length; i++) {
                greedy = advance(prompt[i]);
            }
        } else {
            greedy = prefill(prompt);
        }
        int next = pick(greedy, sampler);
        cache.endPrefill();
        if (remote != null) {
            remote.offerWritten(sequence());
        }
        long t1 = System.nanoTime();
        phases.clear();
        cache.takeWaitNanos(); // the prompt's waits are not the first step's
        if (opTimes != null) {
            opTimes.clear();
        }
        int[] out = new int[maxNew];
        int n = 0;
        while (true) {
            out[n++] = next;
            if (onToken != null) {
                onToken.accept(next);
            }
            if (next == eosId || n == maxNew) {
                break;
            }
            next = pick(step(next), sampler);
            stepStore();
        }
        long t2 = System.nanoTime();
        int kept = position();
        return new GenerationResult(Arrays.copyOf(out, n), prompt.length, t1 - t0, n > 1 ? t2 - t1 : 0, kept, 1.0, kept,
                cache.bytes(), 0);
    }

    private int pick(int greedy, Sampler sampler) {
        return sampler == null ? greedy : sampler.next(logits());
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("the CUDA decoder is closed");
        }
    }

    /** Waits for queued work, then frees everything (the device and all it holds); idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        // Every part is freed even when the wait or an earlier part fails (a kernel's fault is sticky: every later call
        // fails); the first failure is thrown, the later ones suppressed into it.
        Throwable first = null;
        try {
            device.synchronize(); // a step cut short by an exception may still have kernels reading the tiers' slabs
        } catch (RuntimeException | Error e) {
            first = e;
        }
        try (cache) {
            graphs.close();
        } catch (RuntimeException | Error e) {
            first = firstOf(first, e);
        }
        try {
            device.close();
        } catch (RuntimeException | Error e) {
            first = firstOf(first, e);
        }
        if (first instanceof RuntimeException e) {
            throw e;
        } else if (first instanceof Error e) {
            throw e;
        }
    }

    private static Throwable firstOf(Throwable first, Throwable next) {
        if (first == null) {
            return next;
        }
        first.addSuppressed(next);
        return first;
    }
}

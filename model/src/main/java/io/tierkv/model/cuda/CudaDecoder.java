package io.tierkv.model.cuda;

import io.tierkv.core.DType;
import io.tierkv.cuda.driver.CudaContext;
import io.tierkv.cuda.driver.CudaCopies;
import io.tierkv.cuda.driver.CudaStream;
import io.tierkv.cuda.driver.DeviceBuffer;
import io.tierkv.cuda.driver.PinnedBuffer;
import io.tierkv.cuda.ops.CudaDecoderOps;
import io.tierkv.cuda.ops.CudaDecoderStep;
import io.tierkv.cuda.ops.CudaLinear;
import io.tierkv.cuda.ops.CudaPagedAttention;
import io.tierkv.cuda.ops.PagedKvShape;
import io.tierkv.cuda.ops.RopeTables;
import io.tierkv.model.generate.GenerationResult;
import io.tierkv.model.generate.Sampler;
import io.tierkv.model.llama.LlamaConfig;
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
 * Activations and accumulation are fp32 ({@link StepLayout}). Prefill runs the decode step token by token (no prefill
 * GEMM yet), so it costs one weight pass per prompt token. One sequence at a time; not thread-safe. The libtorch CPU
 * decoder is the oracle ({@code CudaDecoderGpuTest} holds this one to its fixture).
 */
public final class CudaDecoder implements AutoCloseable {
    private final LlamaConfig c;
    private final CudaContext context;
    private final CudaStream stream;
    private final CudaLinear linear;
    private final CudaDecoderOps ops;
    private final CudaPagedAttention attention;
    private final CudaDecoderStep step;
    private final DeviceWeights weights;
    private final PagedKvCache cache;
    private final StepLayout at;
    private final DeviceBuffer act;      // StepLayout: the step's activations
    private final DeviceBuffer rope;     // cos [maxTokens][headDim / 2] then sin, fp32
    private final PinnedBuffer host;     // logits [V] f32, then the argmax i32
    private final int maxTokens;
    private final int ropeRows;
    private final float scale;
    private final float eps;
    private final int qDim;
    private final int kvDim;
    private boolean closed;

    private CudaDecoder(LlamaConfig config, WeightPlan plan, int maxTokens, int blockSize, DType kvDtype) {
        this.c = config;
        this.maxTokens = maxTokens;
        this.qDim = c.heads() * c.headDim();
        this.kvDim = c.kvHeads() * c.headDim();
        this.scale = (float) (1.0 / Math.sqrt(c.headDim()));
        this.eps = (float) c.rmsNormEps();
        this.at = StepLayout.of(c);
        PagedKvShape shape = PagedKvShape.dense(kvDtype, c.heads(), c.kvHeads(), c.headDim(), blockSize);
        this.ropeRows = maxTokens;
        Owned owned = new Owned();
        try {
            this.context = owned.add(CudaContext.primary(0));
            this.stream = owned.add(new CudaStream(context));
            this.linear = owned.add(new CudaLinear(context));
            this.ops = owned.add(new CudaDecoderOps(context));
            this.attention = owned.add(new CudaPagedAttention(context));
            this.step = owned.add(new CudaDecoderStep(context));
            this.weights = owned.add(DeviceWeights.upload(plan, context, stream));
            this.cache = owned.add(new PagedKvCache(context, shape, c.layers(), KvBlockTable.blocksFor(maxTokens, blockSize), stream));
            this.act = owned.add(new DeviceBuffer(context, at.bytes()));
            this.rope = owned.add(uploadRope(context, stream, c, ropeRows));
            this.host = owned.add(new PinnedBuffer(context, StepLayout.align(4L * c.vocabSize()) + 16));
            stream.synchronize();
        } catch (RuntimeException | Error e) {
            try {
                owned.closeAll();
            } catch (RuntimeException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    /**
     * Loads {@code dir}'s checkpoint onto GPU 0.
     *
     * @param maxTokens the most tokens (prompt + generated) the sequence may reach: sizes the KV slabs and RoPE tables
     * @param blockSize tokens per KV block
     * @param kvDtype   the KV blocks' element type, or null for the model's (its projections' checkpoint dtype)
     */
    public static CudaDecoder load(Path dir, int maxTokens, int blockSize, DType kvDtype) {
        LlamaConfig config = LlamaConfig.readDir(dir);
        check(config, maxTokens, blockSize);
        WeightPlan plan = WeightPlan.of(dir, config);
        return new CudaDecoder(config, plan, maxTokens, blockSize, kvDtype != null ? kvDtype : plan.modelDtype());
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
        if (c.slidingWindow() > 0 && maxTokens > c.slidingWindow()) {
            throw new IllegalArgumentException("the model attends over a sliding window of " + c.slidingWindow() + " tokens; windowed"
                    + " attention is not implemented: keep prompt + max tokens (" + maxTokens + ") within it");
        }
    }

    private static DeviceBuffer uploadRope(CudaContext context, CudaStream stream, LlamaConfig c, int rows) {
        double[] inv = RopeTables.invFreq(c.headDim(), c.ropeTheta());
        LlamaConfig.RopeScaling s = c.ropeScaling();
        if (s != null) {
            inv = RopeTables.llama3InvFreq(inv, s.factor(), s.lowFreqFactor(), s.highFreqFactor(), s.originalMaxPositions());
        }
        float[][] cs = RopeTables.tables(inv, rows);
        long half = 4L * cs[0].length;
        DeviceBuffer d = new DeviceBuffer(context, 2 * half);
        try (PinnedBuffer p = new PinnedBuffer(context, 2 * half)) {
            ByteBuffer b = p.buffer();
            b.asFloatBuffer().put(cs[0]).put(cs[1]);
            CudaCopies.hostToDeviceAsync(d, 0, p, 0, 2 * half, stream);
            stream.synchronize();
        } catch (RuntimeException e) {
            d.close();
            throw e;
        }
        return d;
    }

    public LlamaConfig config() {
        return c;
    }

    /** Tokens in the cache: the position the next {@link #step} writes. */
    public int position() {
        return cache.table.tokens();
    }

    /** The KV blocks' element type. */
    public DType kvDtype() {
        return cache.shape.dtype();
    }

    /** Device bytes of the weights. */
    public long weightBytes() {
        return weights.bytes();
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
        int position = cache.append(stream);
        long a = act.address();
        ops.embedAsync(a + at.h(), weights.embed.address(), weights.embed.dtype(), c.vocabSize(), c.hiddenSize(), token, stream);
        for (int l = 0; l < c.layers(); l++) {
            layer(l, position);
        }
        ops.rmsNormAsync(a + at.xn(), a + at.h(), weights.norm, DType.F32, 1, c.hiddenSize(), eps, stream);
        gemv(a + at.logits(), weights.lmHead, a + at.xn(), 0);
        step.argmaxAsync(a + at.logits(), c.vocabSize(), a + at.token(), stream);
        CudaCopies.deviceToHostAsync(host, tokenOffset(), act, at.token(), 4, stream);
        stream.synchronize();
        int next = host.buffer(tokenOffset(), 4).getInt(0);
        if (next < 0 || next >= c.vocabSize()) {
            throw new IllegalStateException("the logits at position " + position + " hold no number (argmax returned " + next + ")");
        }
        return next;
    }

    private void layer(int l, int position) {
        DeviceWeights.Layer w = weights.layers[l];
        long a = act.address();
        int d = c.hiddenSize();
        ops.rmsNormAsync(a + at.xn(), a + at.h(), w.attnNorm(), DType.F32, 1, d, eps, stream);
        gemv(a + at.q(), w.wq(), a + at.xn(), w.bq());
        gemv(a + at.k(), w.wk(), a + at.xn(), w.bk());
        gemv(a + at.v(), w.wv(), a + at.xn(), w.bv());
        ops.ropeAsync(a + at.q(), a + at.k(), 1, c.heads(), c.kvHeads(), c.headDim(), position, rope.address(),
                rope.address() + ropeHalfBytes(), ropeRows, stream);
        KvBlockTable t = cache.table;
        int block = t.block(position);
        step.appendAsync(cache.shape, cache.layerSlab(l), t.capacityBlocks(), t.slot(block), t.row(position), a + at.k(), a + at.v(), stream);
        attention.attendAsync(cache.shape, a + at.q(), cache.layerSlab(l), cache.layerBytes(), cache.slotsAddress(), cache.validAddress(),
                cache.maskAddress(), t.blocks(), scale, a + at.attn(), a + at.lse(), stream);
        gemv(a + at.h(), w.wo(), a + at.attn(), a + at.h());
        if (w.bo() != 0) {
            ops.addAsync(a + at.h(), a + at.h(), w.bo(), d, stream);
        }
        ops.rmsNormAsync(a + at.xn(), a + at.h(), w.mlpNorm(), DType.F32, 1, d, eps, stream);
        gemv(a + at.gate(), w.wGate(), a + at.xn(), 0);
        gemv(a + at.up(), w.wUp(), a + at.xn(), 0);
        ops.siluMulAsync(a + at.gate(), a + at.gate(), a + at.up(), c.intermediateSize(), stream);
        gemv(a + at.h(), w.wDown(), a + at.gate(), a + at.h());
    }

    /** y = W x (+ residual, which may be y or a bias), W (rows, cols). */
    private void gemv(long y, DeviceWeights.Matrix w, long x, long residual) {
        linear.gemvAsync(y, w.address(), w.dtype(), x, residual, w.rows(), w.cols(), stream);
    }

    private long ropeHalfBytes() {
        return 4L * ropeRows * (c.headDim() / 2);
    }

    private long tokenOffset() {
        return StepLayout.align(4L * c.vocabSize());
    }

    /** The last step's logits ({@code [vocab]} fp32), copied to the host. */
    public float[] logits() {
        ensureOpen();
        long bytes = 4L * c.vocabSize();
        CudaCopies.deviceToHostAsync(host, 0, act, at.logits(), bytes, stream);
        stream.synchronize();
        float[] out = new float[c.vocabSize()];
        host.buffer(0, (int) bytes).order(ByteOrder.nativeOrder()).asFloatBuffer().get(out);
        return out;
    }

    /**
     * Runs the prompt through the model token by token (the decode step; no batched prefill yet) and returns the greedy
     * token after it.
     */
    public int prefill(int[] ids) {
        if (ids.length == 0) {
            throw new IllegalArgumentException("the prompt is empty");
        }
        int next = -1;
        for (int id : ids) {
            next = step(id);
        }
        return next;
    }

    /** Marks the cached token at {@code position} evicted: attention skips it from the next step on. */
    public void evict(int position) {
        ensureOpen();
        cache.evict(position, stream);
    }

    /** Forgets the sequence, keeping the weights and buffers for the next. */
    public void reset() {
        ensureOpen();
        cache.reset(stream);
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
        if (maxNew < 1) {
            throw new IllegalArgumentException("max tokens must be > 0, was " + maxNew);
        }
        if ((long) prompt.length + maxNew - 1 > maxTokens) {
            throw new IllegalArgumentException(prompt.length + " prompt tokens + " + maxNew + " new ones exceed this decoder's maxTokens "
                    + maxTokens);
        }
        reset();
        long t0 = System.nanoTime();
        int next = pick(prefill(prompt), sampler);
        long t1 = System.nanoTime();
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

    /** Waits for queued work, then frees everything; idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        stream.synchronize();
        Owned owned = new Owned();
        owned.add(context);
        owned.add(stream);
        owned.add(linear);
        owned.add(ops);
        owned.add(attention);
        owned.add(step);
        owned.add(weights);
        owned.add(cache);
        owned.add(act);
        owned.add(rope);
        owned.add(host);
        owned.closeAll();
    }
}

package io.tierkv.model.generate;

import io.tierkv.core.KvLayout;
import io.tierkv.core.placement.PlacementConfig;
import io.tierkv.core.policy.KvPolicy;
import io.tierkv.model.llama.LlamaConfig;
import io.tierkv.model.llama.LlamaForward;
import io.tierkv.model.llama.LlamaWeights;
import io.tierkv.model.llama.Rope;
import io.tierkv.model.llama.Tensors;
import io.tierkv.tiering.LayerView;
import io.tierkv.tiering.Sequence;
import io.tierkv.tiering.TierManager;
import io.tierkv.tiering.remote.BlockMemory;
import io.tierkv.tiering.remote.RemotePrefix;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

/**
 * The Llama decoder with its KV cache in TierKV's blocks. Keys and values are written straight into the
 * arenas' slots; attention reads the device blocks and the host blocks of each layer where they lie
 * (libtorch tensors over the arenas, zero-copy) and merges the two parts exactly
 * ({@link SplitAttention}); each query's attention probabilities go to the policy.
 *
 * <p>Two ways in: {@link #prefillDense} runs a whole prompt densely (the paper's mode) and then fills the
 * cache block by block, so that a prompt larger than the device budget still fits; {@link #forward}
 * runs a few tokens against the cache (a decode step, or a chunk of a prompt in chunked mode).
 * Temporaries are freed per call (a PointerScope).
 */
public final class TieredDecoder {
    private static final float NEG_INF = Float.NEGATIVE_INFINITY;

    private final LlamaWeights w;
    private final LlamaConfig c;
    private final LlamaForward dense;
    private final Rope rope;
    private final KvLayout layout;
    /** (deviceSlots, 2, blockSize, K, d) float32, a view over the device arena. */
    private final Tensor deviceSlab;
    /** (hostSlots, 2, blockSize, K, d) float32, a view over the host arena. */
    private final Tensor hostSlab;
    private final DecodeProfile profile = new DecodeProfile();
    /** METRICS (DecodeMetrics): what the device tier served; off unless enabled. */
    private final DecodeMetrics metrics = new DecodeMetrics();
    /** (H, n, span) attention rows by token position, reused across steps. */
    /** Selects the prompt queries' top-k for the placement's prior. */
    private float[] rows = new float[0];
    /** (H, n, N) one part's attention rows, reused across steps. */
    private float[] partRows = new float[0];
    /** (H, n) reciprocal softmax denominators, reused across steps. */
    private float[] inverse = new float[0];
    /** The parts one layer's attention reads (device, host), reused across layers and steps. */
    private final List<SplitAttention.Part> parts = new ArrayList<>(2);
    /** (part) the positions, bias and slots behind {@link #parts}, reused: no array per step grows with the sequence. */
    private final PartBuffers[] partBuffers = {new PartBuffers(), new PartBuffers()};
    /** How decode steps read the host tier; see {@link #hostRead(HostRead)}. */
    private HostRead hostRead = HostRead.EXACT;
    /** Host reads of the decode steps, per layer. */
    private final HostReadStats hostReads;
    /** Digest mode only: the blocks' key digests and the host block selection; null in exact mode. */
    private BlockDigests digests;
    private HostBlockSelector selector;

    public TieredDecoder(LlamaWeights weights, TierManager tiers) {
        this.w = weights;
        this.c = weights.config;
        this.dense = new LlamaForward(weights);
        this.rope = dense.rope();
        this.layout = tiers.config().layout();
        if (layout.kvHeads() != c.kvHeads() || layout.headDim() != c.headDim() || layout.layers() != c.layers()) {
            throw new IllegalArgumentException("the tier manager's layout " + layout + " does not match the model ("
                    + c.layers() + " layers, " + c.kvHeads() + " kv heads, head dim " + c.headDim() + ")");
        }
        this.deviceSlab = slab(tiers.deviceBaseAddress(), tiers.deviceCapacityBlocks());
        this.hostSlab = slab(tiers.hostBaseAddress(), tiers.hostCapacityBlocks());
        this.hostReads = new HostReadStats(c.layers());
    }

    /**
     * Sets how decode steps read the host tier (before the first token): {@link HostRead#EXACT} attends every
     * host block; digest mode keeps a {@link BlockDigests digest} of every full block and attends only the
     * host blocks whose bound ranks highest ({@link HostBlockSelector}).
     */
    public void hostRead(HostRead mode) {
        this.hostRead = mode;
        this.digests = mode.digest() ? new BlockDigests(c.layers(), c.kvHeads(), c.headDim(), layout.blockSize(), mode.parts(),
                mode.bits(), mode.sketch()) : null;
        this.selector = mode.digest()
                ? new HostBlockSelector(mode, digests, hostReads, c.heads(), c.kvHeads(), c.headDim(), layout.blockSize()) : null;
    }

    public HostRead hostRead() {
        return hostRead;
    }

    /** What the decode steps read from the host tier so far. */
    public HostReadStats hostReads() {
        return hostReads;
    }

    /** Bytes of the live block digests at their peak (0 in exact mode); they count against the device budget. */
    public long digestBytesPeak() {
        return digests == null ? 0 : digests.peakBytes();
    }

    private Tensor slab(long address, int slots) {
        return Tensors.keep(Tensors.floatView(address, slots, 2, layout.blockSize(), layout.kvHeads(), layout.headDim()));
    }

    public LlamaConfig config() {
        return c;
    }

    /** METRICS: the device tier's share of attention and the host's attention time (off unless enabled). */
    public DecodeMetrics metrics() {
        return metrics;
    }

    /** Time spent in {@link #forward}, split into policy, tiers and the rest. */
    public DecodeProfile profile() {
        return profile;
    }

    /**
     * The paper's prefill: the whole prompt in one dense causal pass; then its keys and values are
     * appended block by block (the tier manager demotes older blocks as the device fills); then the
     * policy observes the prompt rows it asked for. Returns the logits (V) of the last prompt token.
     */
    public float[] prefillDense(Sequence seq, KvPolicy policy, int[] prompt) {
        if (seq.length() != 0) {
            throw new IllegalStateException("prefillDense needs an empty sequence, it holds " + seq.length() + " tokens");
        }
        int p = prompt.length;
        int qRows = promptQueryRows(policy, p);
        try (PointerScope scope = new PointerScope()) {
            Tensor[] ks = new Tensor[c.layers()];
            Tensor[] vs = new Tensor[c.layers()];
            Tensor[] qs = new Tensor[c.layers()];
            Tensor ids = Tensors.fromInts(prompt, 1, p);
            Tensor h = dense.hidden(ids, (layer, q, k, v) -> {
                // (1, K, T, d) -> (T, K, d), contiguous for row copies into blocks.
                ks[layer] = k.squeeze(0).permute(1, 0, 2).contiguous();
                vs[layer] = v.squeeze(0).permute(1, 0, 2).contiguous();
                qs[layer] = q.squeeze(0).narrow(1, p - qRows, qRows);
            });
            float[] logits = Tensors.toFloats(Tensors.linear(h.select(1, p - 1), w.lmHead).view(-1));
            placePrompt(seq, policy, p, ks, vs, qs);
            return logits;
        }
    }

    /**
     * The prompt queries a dense prefill keeps: those the policy observes ({@link KvPolicy#prefillRows}) and those
     * that seed the placement ({@link PlacementConfig#priorQueries}); a prefill after a loaded prefix must
     * compute at least these ({@link PromptRows#queryRows}).
     */
    public static int promptQueryRows(KvPolicy policy, int promptLength) {
        return PromptRows.queryRows(policy, promptLength);
    }

    /**
     * The paper's prefill after the prompt's first {@code prefix.tokens(blockSize)} tokens were found in the remote
     * tier: only the rest is computed (RoPE positions from there, attention over the loaded keys and values too),
     * then everything goes on as in {@link #prefillDense(Sequence, KvPolicy, int[])}, loaded rows included, so the
     * policy and the placement see what they would have seen. The rest must hold {@link #promptQueryRows} tokens.
     */
    public float[] prefillDense(Sequence seq, KvPolicy policy, int[] prompt, RemotePrefix prefix) {
        if (seq.length() != 0) {
            throw new IllegalStateException("prefillDense needs an empty sequence, it holds " + seq.length() + " tokens");
        }
        int p = prompt.length;
        int skip = prefix.tokens(layout.blockSize());
        int n = p - skip;
        int qRows = promptQueryRows(policy, p);
        if (qRows > n) {
            throw new IllegalArgumentException("a loaded prefix of " + skip + " tokens leaves " + n + " of " + p
                    + " prompt tokens to compute, fewer than the " + qRows + " query rows prefill needs");
        }
        try (PointerScope scope = new PointerScope()) {
            Tensor[] past = loadedPrefix(prefix, skip);                       // per layer (2, skip, K, d)
            Tensor[] ks = new Tensor[c.layers()];
            Tensor[] vs = new Tensor[c.layers()];
            Tensor[] qs = new Tensor[c.layers()];
            Tensor bias = Tensors.fromFloats(causalBias(skip, n, p), n, p);
            Tensor h = torch.embedding(w.embed, Tensors.fromInts(Arrays.copyOfRange(prompt, skip, p), n));  // (n, D)
            for (int l = 0; l < c.layers(); l++) {
                Tensor x = dense.rmsNorm(h, w.attnNorm[l]);
                Tensor q = rope.apply(Tensors.linear(x, w.wq[l]).view(n, c.heads(), c.headDim()).transpose(0, 1), skip)
                        .transpose(0, 1);                                       // (n, H, d)
                Tensor k = rope.apply(Tensors.linear(x, w.wk[l]).view(n, c.kvHeads(), c.headDim()).transpose(0, 1), skip)
                        .transpose(0, 1);                                       // (n, K, d)
                Tensor v = Tensors.linear(x, w.wv[l]).view(n, c.kvHeads(), c.headDim());
                ks[l] = torch.cat(new TensorVector(past[l].select(0, 0), k), 0).contiguous();  // (p, K, d)
                vs[l] = torch.cat(new TensorVector(past[l].select(0, 1), v), 0).contiguous();  // (p, K, d)
                qs[l] = q.transpose(0, 1).narrow(1, n - qRows, qRows);                           // (H, qRows, d)
                Tensor a = SplitAttention.attend(q, List.of(new SplitAttention.Part(ks[l], vs[l], bias)), c.kvHeads(), false).output();
                h = h.add(Tensors.linear(a.reshape(n, (long) c.heads() * c.headDim()), w.wo[l]));
                h = h.add(dense.mlp(dense.rmsNorm(h, w.mlpNorm[l]), l));
            }
            Tensor last = dense.rmsNorm(h.select(0, n - 1), w.norm);
            float[] logits = Tensors.toFloats(Tensors.linear(last, w.lmHead));
            placePrompt(seq, policy, p, ks, vs, qs);
            return logits;
        }
    }

    /** The loaded blocks' keys and values, per layer {@code (2, skip, K, d)} float32 (K then V). */
    private Tensor[] loadedPrefix(RemotePrefix prefix, int skip) {
        int layers = c.layers();
        long rowFloats = (long) c.kvHeads() * c.headDim();
        Tensor staging = Tensors.fromFloats(new float[(int) (layers * 2L * skip * rowFloats)], layers, 2, skip, c.kvHeads(), c.headDim());
        long base = staging.data_ptr_float().address();
        int bs = layout.blockSize();
        BlockMemory memory = new BlockMemory() {
            @Override
            public long keyAddress(int block, int layer) {
                return base + ((layer * 2L) * skip + (long) block * bs) * rowFloats * Float.BYTES;
            }

            @Override
            public long valueAddress(int block, int layer) {
                return base + ((layer * 2L + 1) * skip + (long) block * bs) * rowFloats * Float.BYTES;
            }
        };
        prefix.copyInto(memory);
        Tensor[] out = new Tensor[layers];
        for (int l = 0; l < layers; l++) {
            out[l] = staging.select(0, l);
        }
        return out;
    }

    /**
     * The second half of a dense prefill: seeds the placement with the last prompt queries' attention, appends
     * and writes the prompt block by block, shows the policy the rows it asked for, ends the prefill.
     * {@code ks}/{@code vs} per layer (p, K, d); {@code qs} per layer (H, qRows, d), the last prompt queries.
     */
    private void placePrompt(Sequence seq, KvPolicy policy, int p, Tensor[] ks, Tensor[] vs, Tensor[] qs) {
        PromptRows reads = PromptRows.dense(policy, p, c.layers(), c.heads(), layout.blockSize());
        int qRows = p - reads.first();
        // The prompt's own attention seeds the placement before any block is placed.
        prefillProbs(qs, ks, p, qRows, reads.priorFrom() - reads.first(), p - reads.priorFrom(), reads::countPrior);
        reads.seed(seq);
        seq.holdHostBudgetUntilEndPrefill(); // the policy's end of prefill first, then the host budget (EVICT blocks first)
        for (int start = 0; start < p; start += layout.blockSize()) {
            int n = Math.min(layout.blockSize(), p - start);
            seq.append(n);
            for (int l = 0; l < c.layers(); l++) {
                writeRows(seq, l, start, ks[l].narrow(0, start, n), vs[l].narrow(0, start, n));
            }
        }
        if (reads.policyFrom() < p) {
            prefillProbs(qs, ks, p, qRows, reads.policyFrom() - reads.first(), p - reads.policyFrom(),
                    (l, query, probs, offset, stride) -> reads.observe(seq, l, query, probs, offset, stride));
        }
        seq.endPrefill();
    }

    /** Receives one prompt query's attention row: {@code heads} rows of {@code stride} apart from {@code offset}. */
    private interface PromptRow {
        void accept(int layer, int query, float[] probs, int offset, int stride);
    }

    /** Dense attention probabilities of {@code rows} of the {@code qRows} kept prompt queries, from {@code first}, row by row. */
    private void prefillProbs(Tensor[] qs, Tensor[] ks, int p, int qRows, int first, int rows, PromptRow sink) {
        int chunk = 128;
        for (int l = 0; l < c.layers(); l++) {
            for (int r0 = 0; r0 < rows; r0 += chunk) {
                int n = Math.min(chunk, rows - r0);
                try (PointerScope scope = new PointerScope()) {
                    Tensor q = qs[l].narrow(1, first + r0, n).permute(1, 0, 2); // (n, H, d)
                    Tensor k = ks[l];                                            // (P, K, d)
                    int query0 = p - qRows + first + r0;
                    Tensor bias = Tensors.fromFloats(causalBias(query0, n, p), n, p);
                    SplitAttention.Result r = SplitAttention.attend(q, List.of(new SplitAttention.Part(k, k, bias)), c.kvHeads(), true);
                    float[] probs = Tensors.toFloats(r.probs().get(0)); // (H, n, P)
                    for (int i = 0; i < n; i++) {
                        sink.accept(l, query0 + i, probs, i * p, n * p);
                    }
                }
            }
        }
    }

    private static float[] causalBias(int firstQuery, int queries, int keys) {
        float[] b = new float[queries * keys];
        for (int i = 0; i < queries; i++) {
            Arrays.fill(b, i * keys + firstQuery + i + 1, (i + 1) * keys, NEG_INF);
        }
        return b;
    }

    /**
     * Runs {@code tokens} at positions {@code [seq.length(), ...)} against the cache: appends them, writes
     * their keys and values, attends the tiered blocks, lets the policy observe every query if it wants
     * to, and with {@code steps} calls {@link Sequence#step()} once per token. Returns the logits (V) of
     * the last token.
     */
    public float[] forward(Sequence seq, KvPolicy policy, int[] tokens, boolean steps) {
        int start = seq.length();
        int n = tokens.length;
        boolean observe = policy.observesAttention();
        long t0 = System.nanoTime();
        try (PointerScope scope = new PointerScope()) {
            seq.append(n);
            profile.addTier(System.nanoTime() - t0);
            Tensor h = torch.embedding(w.embed, Tensors.fromInts(tokens, n));  // (n, D)
            for (int l = 0; l < c.layers(); l++) {
                Tensor x = dense.rmsNorm(h, w.attnNorm[l]);
                Tensor q = rope.apply(Tensors.linear(x, w.wq[l]).view(n, c.heads(), c.headDim()).transpose(0, 1), start)
                        .transpose(0, 1);                                       // (n, H, d)
                Tensor k = rope.apply(Tensors.linear(x, w.wk[l]).view(n, c.kvHeads(), c.headDim()).transpose(0, 1), start)
                        .transpose(0, 1).contiguous();                          // (n, K, d)
                Tensor v = Tensors.linear(x, w.wv[l]).view(n, c.kvHeads(), c.headDim()).contiguous();
                writeRows(seq, l, start, k, v);
                Tensor a = attendCache(seq, l, q, start, observe);
                h = h.add(Tensors.linear(a.reshape(n, (long) c.heads() * c.headDim()), w.wo[l]));
                h = h.add(dense.mlp(dense.rmsNorm(h, w.mlpNorm[l]), l));
            }
            Tensor last = dense.rmsNorm(h.select(0, n - 1), w.norm);
            float[] logits = Tensors.toFloats(Tensors.linear(last, w.lmHead));
            if (steps) {
                long ts = System.nanoTime();
                for (int i = 0; i < n; i++) {
                    seq.step();
                }
                // A step runs the policy (window closes) and carries out its transitions: both are overhead.
                profile.addTier(System.nanoTime() - ts);
            }
            return logits;
        } finally {
            profile.addTotal(System.nanoTime() - t0);
        }
    }

    /** Attention of queries (n, H, d) at positions [start, start+n) over layer {@code l}'s blocks. */
    private Tensor attendCache(Sequence seq, int l, Tensor q, int start, boolean observe) {
        long t0 = System.nanoTime();
        LayerView view = seq.view(l);
        int n = (int) q.size(0);
        parts.clear();
        addPart(seq, l, deviceSlab, view.deviceSlots(), view.deviceBlocks(), view.deviceCount(), start, n);
        long hostGather = System.nanoTime(); // METRICS
        addHostPart(seq, l, view, q, start, n);
        long t1 = System.nanoTime();
        metrics.hostGather(t1 - hostGather); // METRICS
        profile.addTier(t1 - t0);
        SplitAttention.Result r = SplitAttention.attend(q, parts, c.kvHeads(), observe || metrics.enabled()); // METRICS: || enabled
        metrics.attended(view.deviceCount() * layout.blockSize(), view.hostCount() * layout.blockSize(), layout.blockSize(), r,
                System.nanoTime() - t1); // METRICS
        if (observe) {
            long t2 = System.nanoTime();
            observe(seq, l, r.weights(), r.normalizer(), start, n);
            profile.addPolicy(System.nanoTime() - t2);
        }
        return r.output();
    }

    /**
     * The host part: every host block in exact mode (and for a chunk of several queries, whose read serves them
     * all); in digest mode a decode query's selected blocks only. Decode steps' reads are counted either way.
     */
    private void addHostPart(Sequence seq, int l, LayerView view, Tensor q, int start, int n) {
        if (selector == null || n != 1) {
            if (n == 1) {
                hostReads.add(l, view.hostCount(), view.hostCount());
            }
            addPart(seq, l, hostSlab, view.hostSlots(), view.hostBlocks(), view.hostCount(), start, n);
            return;
        }
        digests.retain(l, view.deviceBlocks(), view.deviceCount(), view.hostBlocks(), view.hostCount());
        float[] qf = Tensors.toFloats(q.contiguous());                       // (1, H, d)
        Tensor qHeads = q.reshape(c.heads(), c.headDim());
        int m = selector.select(l, qf, view, qHeads, hostSlab, seq);
        selector.measureRecall(l, qHeads, view, seq, hostSlab);
        addPart(seq, l, hostSlab, selector.slots(), selector.blocks(), m, start, n);
        boolean[] mask = selector.headMask();
        if (mask != null && m > 0) { // select=head: each head attends only the slices its KV head read
            int last = parts.size() - 1;
            SplitAttention.Part part = parts.get(last);
            int keys = m * layout.blockSize();
            int group = c.heads() / c.kvHeads();
            float[] bias = partBuffers[last].bias;
            float[] headBias = new float[c.heads() * keys];
            for (int h = 0; h < c.heads(); h++) {
                for (int j = 0; j < m; j++) {
                    boolean reads = mask[j * c.kvHeads() + h / group];
                    for (int r = 0; r < layout.blockSize(); r++) {
                        int col = j * layout.blockSize() + r;
                        headBias[h * keys + col] = reads ? bias[col] : NEG_INF;
                    }
                }
            }
            parts.set(last, new SplitAttention.Part(part.keys(), part.values(), Tensors.fromFloats(headBias, c.heads(), 1, keys)));
        }
    }

    /** One part's host-side arrays, grown by doubling and reused (the tensors made from them are copies). */
    private static final class PartBuffers {
        /** (keys) the token position of each key column. */
        long[] positions = new long[0];
        /** (n, keys) additive attention bias: 0 or -inf. */
        float[] bias = new float[0];
        /** (count) the slot of each block. */
        long[] slots = new long[0];
        /** Key columns in use. */
        int keys;

        void ensure(int keys, int queries, int count) {
            if (positions.length < keys) {
                positions = new long[Math.max(keys, positions.length * 2)];
            }
            if (bias.length < queries * keys) {
                bias = new float[Math.max(queries * keys, bias.length * 2)];
            }
            if (slots.length < count) {
                slots = new long[Math.max(count, slots.length * 2)];
            }
            this.keys = keys;
        }
    }

    private void addPart(Sequence seq, int layer, Tensor slab, int[] slots, int[] blocks, int count, int start, int n) {
        if (count == 0) {
            return;
        }
        int bs = layout.blockSize();
        int keys = count * bs;
        PartBuffers buffers = partBuffers[parts.size()];
        buffers.ensure(keys, n, count);
        long[] pos = buffers.positions;
        float[] bias = buffers.bias;
        long[] slotIds = buffers.slots;
        int length = seq.length();
        for (int i = 0; i < count; i++) {
            slotIds[i] = slots[i];
            for (int r = 0; r < bs; r++) {
                int token = blocks[i] * bs + r;
                int col = i * bs + r;
                pos[col] = token;
                boolean dead = token >= length || seq.masked(layer, token);
                for (int qi = 0; qi < n; qi++) {
                    bias[qi * keys + col] = dead || token > start + qi ? NEG_INF : 0f;
                }
            }
        }
        long g0 = System.nanoTime();
        // Reading the blocks where they lie is attention's own work (paged attention gathers too), not bookkeeping.
        // Keys and values gathered straight from the slab's K and V halves: one copy each, no reshaping copy.
        Tensor index = Tensors.fromLongsPrefix(slotIds, count, count);
        Tensor k = slab.select(1, 0).index_select(0, index).view(keys, c.kvHeads(), c.headDim());
        Tensor v = slab.select(1, 1).index_select(0, index).view(keys, c.kvHeads(), c.headDim());
        profile.addTier(-(System.nanoTime() - g0));
        parts.add(new SplitAttention.Part(k, v, Tensors.fromFloatsPrefix(bias, n * keys, n, keys)));
    }

    /**
     * Scatters each part's weights (H, n, N), divided by the softmax denominators, to token positions in a
     * reused Java buffer, (H, n, span) row-major, and hands each query's row to the policy. Positions never
     * attended (evicted, beyond the length) are zero, as the policy expects.
     */
    private void observe(Sequence seq, int layer, List<Tensor> weights, Tensor normalizer, int start, int n) {
        int length = seq.length();
        int span = 0;
        for (int i = 0; i < weights.size(); i++) {
            PartBuffers part = partBuffers[i];
            for (int j = 0; j < part.keys; j++) {
                span = (int) Math.max(span, part.positions[j] + 1);
            }
        }
        int heads = c.heads();
        int size = heads * n * span;
        if (rows.length < size) {
            rows = new float[Math.max(size, rows.length * 2)];
        }
        if (inverse.length < heads * n) {
            inverse = new float[heads * n];
        }
        Arrays.fill(rows, 0, size, 0f);
        Tensors.copyInto(normalizer, inverse, 0);                            // (H, n)
        for (int hq = 0; hq < heads * n; hq++) {
            inverse[hq] = 1f / inverse[hq];
        }
        for (int i = 0; i < weights.size(); i++) {
            long[] pos = partBuffers[i].positions;
            int keys = partBuffers[i].keys;
            if (partRows.length < heads * n * keys) {
                partRows = new float[Math.max(heads * n * keys, partRows.length * 2)];
            }
            Tensors.copyInto(weights.get(i), partRows, 0);                   // (H, n, keys)
            for (int hq = 0; hq < heads * n; hq++) {
                int src = hq * keys;
                int dst = hq * span;
                float inv = inverse[hq];
                for (int j = 0; j < keys; j++) {
                    rows[dst + (int) pos[j]] = partRows[src + j] * inv;
                }
            }
        }
        for (int qi = 0; qi < n; qi++) {
            seq.observe(layer, start + qi, rows, qi * span, heads, n * span, Math.min(length, start + qi + 1));
        }
    }

    /** Writes rows (n, K, d) of keys and values for positions [start, start+n) into the layer's blocks. */
    private void writeRows(Sequence seq, int layer, int start, Tensor k, Tensor v) {
        int n = (int) k.size(0);
        int bs = layout.blockSize();
        long width = (long) c.kvHeads() * c.headDim();
        for (int i = 0; i < n; ) {
            int pos = start + i;
            int run = Math.min(n - i, bs - pos % bs);
            copyTo(seq.keyAddress(layer, pos), k.narrow(0, i, run), run * width);
            copyTo(seq.valueAddress(layer, pos), v.narrow(0, i, run), run * width);
            if (digests != null && (pos + run) % bs == 0) {
                int block = pos / bs;
                digests.update(layer, block, seq.keyAddress(layer, block * bs));
            }
            i += run;
        }
    }

    private static void copyTo(long address, Tensor src, long elements) {
        Tensors.floatView(address, elements).copy_(src.reshape(elements));
    }
}

package io.tierkv.model.llama;

import java.util.LinkedHashMap;
import java.util.Map;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

/**
 * The weights of a Llama-shaped model as CPU tensors, by their Hugging Face names. The shapes follow
 * {@code nn.Linear}: a projection's weight is (out, in), applied as {@code x @ W^T} by {@link Tensors#linear}.
 * Projections and the embedding keep the checkpoint's dtype (float32, bfloat16 or float16; a loaded
 * checkpoint's are views over the memory-mapped file, see {@link LlamaCheckpoint}); norms and biases are
 * float32. A projection with a bias (Qwen2's q, k, v) is a {@link BiasedWeight}.
 */
public final class LlamaWeights implements AutoCloseable {
    public final LlamaConfig config;
    /** (V, D) token embeddings. */
    public final Tensor embed;
    /** (D) per layer: RMSNorm before attention. */
    public final Tensor[] attnNorm;
    /** (H*hd, D) per layer. */
    public final Tensor[] wq;
    /** (kvH*hd, D) per layer. */
    public final Tensor[] wk;
    /** (kvH*hd, D) per layer. */
    public final Tensor[] wv;
    /** (D, H*hd) per layer. */
    public final Tensor[] wo;
    /** (D) per layer: RMSNorm before the MLP. */
    public final Tensor[] mlpNorm;
    /** (F, D) per layer. */
    public final Tensor[] wGate;
    /** (F, D) per layer. */
    public final Tensor[] wUp;
    /** (D, F) per layer. */
    public final Tensor[] wDown;
    /** (D) final RMSNorm. */
    public final Tensor norm;
    /** (V, D) output projection; the same tensor as {@link #embed} when tied. */
    public final Tensor lmHead;
    /** The tensors as named in the checkpoint (biases included, the BiasedWeight wrappers not). */
    private final Map<String, Tensor> byName;
    /** What backs the tensors' memory (the mapped files), released after them; null for heap-owned tensors. */
    private final AutoCloseable backing;

    private LlamaWeights(LlamaConfig config, Map<String, Tensor> byName, AutoCloseable backing) {
        this.config = config;
        this.byName = new LinkedHashMap<>(byName);
        this.backing = backing;
        int n = config.layers();
        embed = byName.get("model.embed_tokens.weight");
        attnNorm = new Tensor[n];
        wq = new Tensor[n];
        wk = new Tensor[n];
        wv = new Tensor[n];
        wo = new Tensor[n];
        mlpNorm = new Tensor[n];
        wGate = new Tensor[n];
        wUp = new Tensor[n];
        wDown = new Tensor[n];
        for (int i = 0; i < n; i++) {
            String p = "model.layers." + i + ".";
            attnNorm[i] = byName.get(p + "input_layernorm.weight");
            wq[i] = projection(byName, p + "self_attn.q_proj");
            wk[i] = projection(byName, p + "self_attn.k_proj");
            wv[i] = projection(byName, p + "self_attn.v_proj");
            wo[i] = projection(byName, p + "self_attn.o_proj");
            mlpNorm[i] = byName.get(p + "post_attention_layernorm.weight");
            wGate[i] = byName.get(p + "mlp.gate_proj.weight");
            wUp[i] = byName.get(p + "mlp.up_proj.weight");
            wDown[i] = byName.get(p + "mlp.down_proj.weight");
        }
        norm = byName.get("model.norm.weight");
        lmHead = config.tieWordEmbeddings() ? embed : byName.get("lm_head.weight");
    }

    /** The weight of {@code prefix}, wrapped with its bias when the checkpoint has one. */
    private static Tensor projection(Map<String, Tensor> byName, String prefix) {
        Tensor w = byName.get(prefix + ".weight");
        Tensor b = byName.get(prefix + ".bias");
        return b == null ? w : new BiasedWeight(w, b);
    }

    /** The tensor names and shapes a checkpoint of {@code config} must hold, in a stable order ({@link CheckpointFiles}). */
    public static Map<String, long[]> expectedShapes(LlamaConfig c) {
        return CheckpointFiles.expectedShapes(c);
    }

    /** Weights from named tensors; the caller has checked names and shapes. */
    public static LlamaWeights of(LlamaConfig config, Map<String, Tensor> byName) {
        return of(config, byName, null);
    }

    /**
     * Weights from named tensors whose memory {@code backing} owns (closed after the tensors, may be null);
     * the caller has checked names and shapes.
     */
    public static LlamaWeights of(LlamaConfig config, Map<String, Tensor> byName, AutoCloseable backing) {
        for (String name : expectedShapes(config).keySet()) {
            if (byName.get(name) == null) {
                throw new IllegalArgumentException("missing tensor '" + name + "'");
            }
        }
        return new LlamaWeights(config, byName, backing);
    }

    /**
     * Random weights as a freshly initialised Llama (normal(0, std) projections and embeddings, ones for
     * norms), seeded; with {@code requiresGrad} for training.
     */
    public static LlamaWeights random(LlamaConfig config, long seed, double std, boolean requiresGrad) {
        torch.manual_seed(seed);
        Map<String, Tensor> m = new LinkedHashMap<>();
        for (Map.Entry<String, long[]> e : expectedShapes(config).entrySet()) {
            Tensor t = e.getKey().endsWith("norm.weight")
                    ? torch.ones(e.getValue(), Tensors.floatOptions())
                    : torch.randn(e.getValue(), Tensors.floatOptions()).mul_(new org.bytedeco.pytorch.Scalar(std));
            if (requiresGrad) {
                t.requires_grad_(true);
            }
            m.put(e.getKey(), t);
        }
        return new LlamaWeights(config, m, null);
    }

    /**
     * The same weights in float32 memory of their own, each requiring gradients, for training: a loaded
     * checkpoint's matrices are views over its read-only file mapping (an optimizer's in-place update there
     * is a native crash) and may be float16. This object is left as it was; close both.
     */
    public LlamaWeights trainableCopy() {
        Map<String, Tensor> copies = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : byName.entrySet()) {
            Tensor copy;
            try (Tensor detached = e.getValue().detach();
                 Tensor f32 = detached.to(torch.ScalarType.Float)) {
                copy = f32.clone();
            }
            copy.requires_grad_(true);
            copies.put(e.getKey(), copy);
        }
        return new LlamaWeights(config, copies, null);
    }

    /** All distinct tensors by their checkpoint names (lm_head omitted when tied), for saving. */
    public Map<String, Tensor> named() {
        Map<String, Tensor> m = new LinkedHashMap<>();
        for (String name : expectedShapes(config).keySet()) {
            m.put(name, byName.get(name));
        }
        return m;
    }

    /** The parameters for an optimizer. */
    public TensorVector parameters() {
        return new TensorVector(named().values().toArray(new Tensor[0]));
    }

    /** Number of scalar parameters. */
    public long parameterCount() {
        long n = 0;
        for (Tensor t : named().values()) {
            n += t.numel();
        }
        return n;
    }

    @Override
    public void close() {
        Tensor[][] projections = {wq, wk, wv, wo};
        for (Tensor[] ps : projections) {
            for (Tensor t : ps) {
                if (t instanceof BiasedWeight) {
                    t.close();
                }
            }
        }
        for (Tensor t : named().values()) {
            t.close();
        }
        if (backing != null) {
            try {
                backing.close();
            } catch (Exception e) {
                throw new IllegalStateException("cannot release the weights' memory", e);
            }
        }
    }
}

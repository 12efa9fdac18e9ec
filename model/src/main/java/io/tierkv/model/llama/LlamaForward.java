package io.tierkv.model.llama;

import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;

/**
 * The dense Llama forward pass over whole sequences: training, and the reference that the tiered decoder
 * is tested against. Shapes: B batch, T tokens, D hidden, H heads, K kv heads, d head dim.
 */
public final class LlamaForward {
    private final LlamaWeights w;
    private final LlamaConfig c;
    private final Rope rope;
    private final long[] normShape;

    public LlamaForward(LlamaWeights weights) {
        this.w = weights;
        this.c = weights.config;
        this.rope = new Rope(c);
        this.normShape = new long[] {c.hiddenSize()};
    }

    public Rope rope() {
        return rope;
    }

    /** Logits (B, T, V) for token ids (B, T), causal attention, positions from 0. */
    public Tensor logits(Tensor ids) {
        Tensor h = hidden(ids);
        return Tensors.linear(h, w.lmHead);
    }

    /** Receives each layer's queries and keys (RoPE applied) and values during a dense pass. */
    @FunctionalInterface
    public interface LayerSink {
        /** q (B, H, T, d), k and v (B, K, T, d). */
        void accept(int layer, Tensor q, Tensor k, Tensor v);
    }

    /** The final hidden states (B, T, D) after the last norm. */
    public Tensor hidden(Tensor ids) {
        return hidden(ids, null);
    }

    /** The final hidden states, showing each layer's q, k, v to {@code sink} (may be null). */
    public Tensor hidden(Tensor ids, LayerSink sink) {
        long b = ids.size(0);
        long t = ids.size(1);
        Tensor h = torch.embedding(w.embed, ids);
        for (int l = 0; l < c.layers(); l++) {
            Tensor x = rmsNorm(h, w.attnNorm[l]);
            Tensor q = project(x, w.wq[l], b, t, c.heads());
            Tensor k = project(x, w.wk[l], b, t, c.kvHeads());
            Tensor v = project(x, w.wv[l], b, t, c.kvHeads());
            q = rope.apply(q, 0);
            k = rope.apply(k, 0);
            if (sink != null) {
                sink.accept(l, q, k, v);
            }
            Tensor a = torch.scaled_dot_product_attention(q, k, v, new TensorOptional(), 0.0, true,
                    new DoubleOptional(), c.kvHeads() != c.heads());
            a = a.transpose(1, 2).reshape(b, t, (long) c.heads() * c.headDim());
            h = h.add(Tensors.linear(a, w.wo[l]));
            h = h.add(mlp(rmsNorm(h, w.mlpNorm[l]), l));
        }
        return rmsNorm(h, w.norm);
    }

    /** x (.., D) -> (B, heads, T, d). */
    private Tensor project(Tensor x, Tensor weight, long b, long t, int heads) {
        return Tensors.linear(x, weight).view(b, t, heads, c.headDim()).transpose(1, 2);
    }

    /**
     * RMSNorm over the last dimension, float32, as Hugging Face's LlamaRMSNorm. A 16-bit {@code x} (the
     * rows of a BF16 embedding table) is widened first; the residual stream turns float32 at its first add.
     */
    public Tensor rmsNorm(Tensor x, Tensor weight) {
        if (Tensors.dtype(x) != torch.ScalarType.Float) {
            x = x.to(torch.ScalarType.Float);
        }
        return torch.rms_norm(x, normShape, new TensorOptional(weight), new DoubleOptional(c.rmsNormEps()));
    }

    /** SwiGLU: down(silu(gate(x)) * up(x)). */
    public Tensor mlp(Tensor x, int layer) {
        Tensor g = torch.silu(Tensors.linear(x, w.wGate[layer]));
        return Tensors.linear(g.mul(Tensors.linear(x, w.wUp[layer])), w.wDown[layer]);
    }
}

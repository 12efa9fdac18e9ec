package io.tierkv.model.llama;

import org.bytedeco.pytorch.Tensor;

/**
 * A projection weight (out, in) that carries its bias (out), for the checkpoints whose attention projections
 * have one (Qwen2's q, k and v). It is the same libtorch tensor as the weight (a second handle on it), so
 * every caller that applies a projection through {@link Tensors#linear} gets the bias added without knowing
 * about it; the bias stays a separate named tensor of {@link LlamaWeights}.
 */
public final class BiasedWeight extends Tensor {
    /** (out) float32. */
    public final Tensor bias;

    /** Wraps {@code weight}; the caller keeps owning (and closing) {@code weight} and {@code bias}. */
    public BiasedWeight(Tensor weight, Tensor bias) {
        super(weight);
        if (bias.dim() != 1 || bias.size(0) != weight.size(0)) {
            throw new IllegalArgumentException("a bias of " + bias.size(0) + " values for a weight of " + weight.size(0) + " rows");
        }
        this.bias = bias;
    }
}

package io.tierkv.model.llama;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

/**
 * Rotary position embeddings exactly as Hugging Face's Llama: {@code inv_freq = theta^(-2i/d)}, optionally
 * rescaled by the llama3 rule; {@code cos, sin} of shape (positions, headDim) with the two halves
 * duplicated, and {@code x * cos + rotate_half(x) * sin} where {@code rotate_half(x) = cat(-x2, x1)}.
 */
public final class Rope {
    private final int headDim;
    /** (headDim / 2) inverse frequencies. */
    private final double[] invFreq;
    /** (maxPositions, headDim) float32 tables, grown on demand. */
    private Tensor cos;
    private Tensor sin;
    private int cached;

    public Rope(LlamaConfig config) {
        this.headDim = config.headDim();
        this.invFreq = inverseFrequencies(config);
    }

    static double[] inverseFrequencies(LlamaConfig c) {
        int half = c.headDim() / 2;
        double[] inv = new double[half];
        for (int i = 0; i < half; i++) {
            inv[i] = 1.0 / Math.pow(c.ropeTheta(), (2.0 * i) / c.headDim());
        }
        LlamaConfig.RopeScaling s = c.ropeScaling();
        if (s != null) {
            double lowWavelen = s.originalMaxPositions() / s.lowFreqFactor();
            double highWavelen = s.originalMaxPositions() / s.highFreqFactor();
            for (int i = 0; i < half; i++) {
                double wavelen = 2 * Math.PI / inv[i];
                if (wavelen > lowWavelen) {
                    inv[i] = inv[i] / s.factor();
                } else if (wavelen >= highWavelen) {
                    double smooth = (s.originalMaxPositions() / wavelen - s.lowFreqFactor())
                            / (s.highFreqFactor() - s.lowFreqFactor());
                    inv[i] = (1 - smooth) * inv[i] / s.factor() + smooth * inv[i];
                }
            }
        }
        return inv;
    }

    /** Makes sure the tables cover positions {@code [0, positions)}. */
    private void ensure(int positions) {
        if (positions <= cached) {
            return;
        }
        int n = Math.max(positions, Math.max(64, cached * 2));
        float[] c = new float[n * headDim];
        float[] s = new float[n * headDim];
        int half = headDim / 2;
        for (int p = 0; p < n; p++) {
            for (int i = 0; i < half; i++) {
                // HF computes freqs in float32: (position * inv_freq) rounded to float before cos/sin.
                float angle = (float) p * (float) invFreq[i];
                float cv = (float) Math.cos(angle);
                float sv = (float) Math.sin(angle);
                c[p * headDim + i] = cv;
                c[p * headDim + i + half] = cv;
                s[p * headDim + i] = sv;
                s[p * headDim + i + half] = sv;
            }
        }
        if (cos != null) {
            cos.close();
            sin.close();
        }
        cos = Tensors.keep(Tensors.fromFloats(c, n, headDim));
        sin = Tensors.keep(Tensors.fromFloats(s, n, headDim));
        cached = n;
    }

    /**
     * Applies RoPE to {@code x} of shape (..., T, headDim) for positions {@code [start, start + T)}.
     */
    public Tensor apply(Tensor x, int start) {
        long t = x.size(-2);
        ensure(Math.toIntExact(start + t));
        Tensor c = cos.narrow(0, start, t);
        Tensor s = sin.narrow(0, start, t);
        return apply(x, c, s);
    }

    /** Applies RoPE with explicit tables (T, headDim) broadcast over the leading dimensions of {@code x}. */
    public Tensor apply(Tensor x, Tensor c, Tensor s) {
        int half = headDim / 2;
        Tensor x1 = x.narrow(-1, 0, half);
        Tensor x2 = x.narrow(-1, half, half);
        TensorVector parts = new TensorVector(x2.neg(), x1);
        Tensor rotated = torch.cat(parts, -1);
        return x.mul(c).add(rotated.mul(s));
    }
}

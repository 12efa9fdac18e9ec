package io.tierkv.model.generate;

import java.util.List;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * Attention of a few queries over a KV cache that lies in several parts (device blocks, host blocks),
 * computed part by part and merged exactly, as in split-K flash decoding: each part yields its
 * unnormalised {@code exp(s - m)} sums and weighted values against a shared running maximum {@code m}, and
 * only these per-query scalars and vectors cross between parts. No part's keys or values are copied to
 * another part to be read.
 *
 * <p>Shapes: Cq queries, H query heads, K kv heads (H = K * G), d head dim, N keys in a part.
 */
public final class SplitAttention {
    private SplitAttention() {
    }

    /**
     * One part of the cache.
     *
     * @param keys   (N, K, d) float32, RoPE applied
     * @param values (N, K, d) float32
     * @param bias   (Cq, N) float32 additive mask: 0 where the query may attend, -inf elsewhere
     */
    public record Part(Tensor keys, Tensor values, Tensor bias) {
        public long size() {
            return keys.size(0);
        }
    }

    /**
     * The merged result.
     *
     * @param output     (Cq, H, d) attention output
     * @param weights    per part, (H, Cq, N) unnormalised attention weights {@code exp(s - m)} (only when asked
     *                   for, else null); a part's probabilities are its weights divided by {@code normalizer}
     * @param normalizer (H, Cq, 1) the softmax denominators over all parts (only when weights were asked for)
     */
    public record Result(Tensor output, List<Tensor> weights, Tensor normalizer) {
        /** Per part, (H, Cq, N) attention probabilities; null unless weights were asked for. */
        public List<Tensor> probs() {
            if (weights == null) {
                return null;
            }
            List<Tensor> probs = new java.util.ArrayList<>(weights.size());
            for (Tensor e : weights) {
                probs.add(e == null ? null : e.div(normalizer));
            }
            return probs;
        }
    }

    /**
     * Attends {@code q} (Cq, H, d) over {@code parts}. At least one part must leave every query a key to
     * attend (its own position, which is always on the device).
     */
    public static Result attend(Tensor q, List<Part> parts, int kvHeads, boolean wantProbs) {
        long cq = q.size(0);
        long h = q.size(1);
        long d = q.size(2);
        long g = h / kvHeads;
        double scale = 1.0 / Math.sqrt(d);
        // (Cq, H, d) -> (K, G*Cq, d): head hh uses kv head hh / G.
        Tensor qg = q.permute(1, 0, 2).reshape(kvHeads, g * cq, d).mul(new org.bytedeco.pytorch.Scalar(scale));
        Tensor[] scores = new Tensor[parts.size()];
        Tensor m = null;
        for (int i = 0; i < parts.size(); i++) {
            Part p = parts.get(i);
            if (p.size() == 0) {
                continue;
            }
            // (K, G*Cq, d) @ (K, d, N) -> (K, G*Cq, N) -> (H, Cq, N), plus the mask broadcast over heads.
            Tensor s = qg.bmm(p.keys().permute(1, 2, 0)).view(h, cq, p.size()).add(p.bias());
            scores[i] = s;
            Tensor pm = s.amax(new long[] {-1}, true);
            m = m == null ? pm : torch.maximum(m, pm);
        }
        if (m == null) {
            throw new IllegalArgumentException("no keys to attend to");
        }
        Tensor z = null;
        Tensor acc = null;
        Tensor[] e = new Tensor[parts.size()];
        for (int i = 0; i < parts.size(); i++) {
            if (scores[i] == null) {
                continue;
            }
            Part p = parts.get(i);
            e[i] = scores[i].sub(m).exp();
            Tensor zi = e[i].sum(new long[] {-1}, true, new org.bytedeco.pytorch.ScalarTypeOptional());
            // (K, G*Cq, N) @ (K, N, d) -> (K, G*Cq, d)
            Tensor ai = e[i].view(kvHeads, g * cq, p.size()).bmm(p.values().permute(1, 0, 2));
            z = z == null ? zi : z.add(zi);
            acc = acc == null ? ai : acc.add(ai);
        }
        Tensor out = acc.view(h, cq, d).div(z).permute(1, 0, 2).contiguous();
        // The division by z is left to the reader of the weights: the policy's consumer folds it into the
        // copy it makes anyway, one libtorch call fewer per part and layer on the decode path.
        return new Result(out, wantProbs ? java.util.Arrays.asList(e) : null, wantProbs ? z : null);
    }
}

package io.tierkv.model.generate;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.model.llama.Tensors;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

class SplitAttentionTest {

    /** Plain softmax attention with GQA over all keys with one mask: the oracle. */
    private static float[] dense(Tensor q, Tensor k, Tensor v, Tensor bias, int kvHeads) {
        long h = q.size(1);
        long g = h / kvHeads;
        Tensor kk = k.repeat_interleave(g, new org.bytedeco.pytorch.LongOptional(1), new org.bytedeco.pytorch.LongOptional());
        Tensor vv = v.repeat_interleave(g, new org.bytedeco.pytorch.LongOptional(1), new org.bytedeco.pytorch.LongOptional());
        Tensor s = q.permute(1, 0, 2).bmm(kk.permute(1, 2, 0)).div(new org.bytedeco.pytorch.Scalar(Math.sqrt(q.size(2)))).add(bias);
        Tensor p = s.softmax(-1);
        return Tensors.toFloats(p.bmm(vv.permute(1, 0, 2)).permute(1, 0, 2));
    }

    @Test
    void attend_overAnySplitOfTheKeys_equalsDenseAttention() {
        SplittableRandom rnd = new SplittableRandom(5);
        for (int trial = 0; trial < 20; trial++) {
            try (PointerScope scope = new PointerScope()) {
                int kv = 2;
                int heads = 4;
                int d = 8;
                int n = 1 + rnd.nextInt(60);
                int cq = 1 + rnd.nextInt(4);
                torch.manual_seed(trial);
                Tensor q = torch.randn(new long[] {cq, heads, d}, Tensors.floatOptions());
                Tensor k = torch.randn(new long[] {n, kv, d}, Tensors.floatOptions());
                Tensor v = torch.randn(new long[] {n, kv, d}, Tensors.floatOptions());
                float[] biasData = new float[cq * n];
                for (int i = 0; i < biasData.length; i++) {
                    biasData[i] = rnd.nextInt(5) == 0 ? Float.NEGATIVE_INFINITY : 0f;
                }
                for (int r = 0; r < cq; r++) {
                    biasData[r * n + n - 1] = 0f; // every query keeps at least its own position
                }
                Tensor bias = Tensors.fromFloats(biasData, cq, n);
                float[] expected = dense(q, k, v, bias, kv);

                // Split the keys into up to three parts of arbitrary, shuffled membership.
                int parts = 1 + rnd.nextInt(3);
                List<List<Long>> members = new ArrayList<>();
                for (int p = 0; p < parts; p++) {
                    members.add(new ArrayList<>());
                }
                for (long i = 0; i < n; i++) {
                    members.get(rnd.nextInt(parts)).add(i);
                }
                List<SplitAttention.Part> split = new ArrayList<>();
                for (List<Long> m : members) {
                    long[] idx = m.stream().mapToLong(Long::longValue).toArray();
                    Tensor index = Tensors.fromLongs(idx, idx.length);
                    split.add(new SplitAttention.Part(k.index_select(0, index), v.index_select(0, index), bias.index_select(1, index)));
                }
                float[] got = Tensors.toFloats(SplitAttention.attend(q, split, kv, false).output());
                double max = 0;
                for (int i = 0; i < got.length; i++) {
                    max = Math.max(max, Math.abs(got[i] - expected[i]));
                }
                assertTrue(max < 1e-5, "trial " + trial + ": max abs difference " + max);
            }
        }
    }
}

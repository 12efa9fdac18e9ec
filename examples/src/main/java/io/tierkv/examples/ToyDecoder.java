package io.tierkv.examples;

import io.tierkv.core.attention.PartialAttention;
import io.tierkv.tiering.BlockDescriptor;
import io.tierkv.tiering.LayerView;
import io.tierkv.tiering.Sequence;
import java.util.Arrays;
import java.util.Random;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * A decoder of random projections, in plain Java, whose KV cache lives in TierKV's blocks: what an engine
 * such as llama3.java does around its own matrix code. Per token and layer it
 * <ol>
 *   <li>writes the token's key and value rows where {@link Sequence#keyAddress} and
 *       {@link Sequence#valueAddress} say (the block being filled is always on the device tier);</li>
 *   <li>attends every live block of {@link Sequence#view}, device blocks and host blocks alike, block by
 *       block with {@link PartialAttention#attend}, merging the parts exactly;</li>
 *   <li>hands each head's attention probabilities to {@link Sequence#observe}, which feeds the policy.</li>
 * </ol>
 * Tokens the policy evicted inside a live block are skipped ({@link Sequence#level}). The caller calls
 * {@link Sequence#step} after each generated token. With the CPU backend both tiers are host memory, read
 * here through Agrona's {@link UnsafeBuffer}; with CUDA the device blocks would be attended on the GPU and
 * only each head's (output, log-sum-exp) brought back to merge.
 *
 * <p>For checking, it also keeps every key and value in Java arrays and can compute the same attention
 * densely over the same live tokens ({@link #lastDenseError}).
 */
public final class ToyDecoder {
    static final int HIDDEN = 32;
    static final int HEADS = 4;
    static final int KV_HEADS = 2;
    static final int HEAD_DIM = 16;
    static final int VOCAB = 64;
    private static final int GROUP = HEADS / KV_HEADS;
    private static final int KV = KV_HEADS * HEAD_DIM;
    private static final float SCALE = (float) (1 / Math.sqrt(HEAD_DIM));

    private final int layers;
    private final BlockDescriptor descriptor;
    /** (VOCAB, HIDDEN) embedding, also the output projection (tied). */
    private final float[] embed;
    /** per layer (HEADS*HEAD_DIM, HIDDEN), (KV, HIDDEN), (KV, HIDDEN), (HIDDEN, HEADS*HEAD_DIM). */
    private final float[][] wq;
    private final float[][] wk;
    private final float[][] wv;
    private final float[][] wo;
    /** per layer (positions, KV) keys and values as written, for the dense check. */
    private float[][] shadowK;
    private float[][] shadowV;
    /** (blockSize, KV) one block's key and value rows, read from its slot. */
    private final float[] blockK;
    private final float[] blockV;
    /** (blockSize) the position of each row copied into blockK/blockV. */
    private final int[] rowPosition;
    private double lastDenseError;

    public ToyDecoder(int layers, BlockDescriptor descriptor, long seed) {
        this.layers = layers;
        this.descriptor = descriptor;
        Random rnd = new Random(seed);
        embed = random(rnd, VOCAB * HIDDEN, 1.0);
        wq = new float[layers][];
        wk = new float[layers][];
        wv = new float[layers][];
        wo = new float[layers][];
        for (int l = 0; l < layers; l++) {
            wq[l] = random(rnd, HEADS * HEAD_DIM * HIDDEN, 2 / Math.sqrt(HIDDEN));
            wk[l] = random(rnd, KV * HIDDEN, 2 / Math.sqrt(HIDDEN));
            wv[l] = random(rnd, KV * HIDDEN, 1 / Math.sqrt(HIDDEN));
            wo[l] = random(rnd, HIDDEN * HEADS * HEAD_DIM, 1 / Math.sqrt(HEADS * HEAD_DIM));
        }
        shadowK = new float[layers][64 * KV];
        shadowV = new float[layers][64 * KV];
        blockK = new float[descriptor.blockSize() * KV];
        blockV = new float[descriptor.blockSize() * KV];
        rowPosition = new int[descriptor.blockSize()];
    }

    /** Runs one token at the next position; returns the logits (VOCAB). */
    public float[] forward(Sequence seq, int token) {
        int pos = seq.length();
        seq.append(1);
        float[] x = Arrays.copyOfRange(embed, token * HIDDEN, (token + 1) * HIDDEN);
        lastDenseError = 0;
        for (int l = 0; l < layers; l++) {
            float[] q = matvec(wq[l], x, HEADS * HEAD_DIM);
            float[] k = matvec(wk[l], x, KV);
            float[] v = matvec(wv[l], x, KV);
            write(seq.keyAddress(l, pos), k);
            write(seq.valueAddress(l, pos), v);
            keepShadow(l, pos, k, v);
            float[] attn = attend(seq, l, q, pos);
            lastDenseError = Math.max(lastDenseError, maxDiff(attn, dense(seq, l, q, pos)));
            float[] o = matvec(wo[l], attn, HIDDEN);
            for (int i = 0; i < HIDDEN; i++) {
                x[i] += o[i];
            }
        }
        return matvec(embed, x, VOCAB);
    }

    /** The largest difference, over the last token's layers, between the tiered attention and the dense one. */
    public double lastDenseError() {
        return lastDenseError;
    }

    /** Attention of q (HEADS*HEAD_DIM) at {@code pos} over the live blocks; observes the probabilities. */
    private float[] attend(Sequence seq, int layer, float[] q, int pos) {
        LayerView view = seq.view(layer);
        float[] out = new float[HEADS * HEAD_DIM];
        float[] lse = new float[HEADS];
        Arrays.fill(lse, Float.NEGATIVE_INFINITY);
        float[] part = new float[HEAD_DIM];
        float[] scores = new float[HEADS * (pos + 1)];
        Arrays.fill(scores, Float.NEGATIVE_INFINITY);
        for (int tier = 0; tier < 2; tier++) {
            int count = tier == 0 ? view.deviceCount() : view.hostCount();
            for (int i = 0; i < count; i++) {
                int block = tier == 0 ? view.deviceBlock(i) : view.hostBlock(i);
                long slot = tier == 0 ? view.deviceAddress(i) : view.hostAddress(i);
                int rows = readLiveRows(seq, layer, block, slot, view.rows(block));
                for (int h = 0; h < HEADS; h++) {
                    int kvHead = h / GROUP;
                    float partLse = PartialAttention.attend(q, h * HEAD_DIM, blockK, blockV, kvHead * HEAD_DIM, KV, rows, HEAD_DIM,
                            SCALE, part, 0);
                    lse[h] = PartialAttention.merge(out, h * HEAD_DIM, lse[h], part, 0, partLse, HEAD_DIM);
                    for (int r = 0; r < rows; r++) {
                        scores[h * (pos + 1) + rowPosition[r]] = SCALE * dot(q, h * HEAD_DIM, blockK, r * KV + kvHead * HEAD_DIM);
                    }
                }
            }
        }
        // probabilities: exp(score - lse) of the merged softmax; 0 where a token is not live
        float[] probs = new float[scores.length];
        for (int h = 0; h < HEADS; h++) {
            for (int t = 0; t <= pos; t++) {
                probs[h * (pos + 1) + t] = (float) Math.exp(scores[h * (pos + 1) + t] - lse[h]);
            }
        }
        seq.observe(layer, pos, probs, 0, HEADS, pos + 1, pos + 1);
        return out;
    }

    /** Copies the live rows of one block's slot into blockK/blockV; returns how many. */
    private int readLiveRows(Sequence seq, int layer, int block, long slotAddress, int rows) {
        UnsafeBuffer slot = new UnsafeBuffer(slotAddress, Math.toIntExact(descriptor.slotBytes()));
        int n = 0;
        for (int r = 0; r < rows; r++) {
            int position = block * descriptor.blockSize() + r;
            if (seq.masked(layer, position)) {
                continue;
            }
            for (int i = 0; i < KV; i++) {
                blockK[n * KV + i] = slot.getFloat(Math.toIntExact(descriptor.keyOffset(r)) + 4 * i);
                blockV[n * KV + i] = slot.getFloat(Math.toIntExact(descriptor.valueOffset(r)) + 4 * i);
            }
            rowPosition[n++] = position;
        }
        return n;
    }

    /** The same attention from the Java copies, one softmax over the same live tokens. */
    private float[] dense(Sequence seq, int layer, float[] q, int pos) {
        LayerView view = seq.view(layer);
        boolean[] inView = new boolean[pos + 1];
        for (int tier = 0; tier < 2; tier++) {
            int count = tier == 0 ? view.deviceCount() : view.hostCount();
            for (int i = 0; i < count; i++) {
                int block = tier == 0 ? view.deviceBlock(i) : view.hostBlock(i);
                for (int r = 0; r < view.rows(block); r++) {
                    int t = block * descriptor.blockSize() + r;
                    inView[t] = !seq.masked(layer, t);
                }
            }
        }
        float[] out = new float[HEADS * HEAD_DIM];
        for (int h = 0; h < HEADS; h++) {
            int off = (h / GROUP) * HEAD_DIM;
            double max = Double.NEGATIVE_INFINITY;
            double[] s = new double[pos + 1];
            for (int t = 0; t <= pos; t++) {
                s[t] = inView[t] ? SCALE * dot(q, h * HEAD_DIM, shadowK[layer], t * KV + off) : Double.NEGATIVE_INFINITY;
                max = Math.max(max, s[t]);
            }
            double sum = 0;
            for (int t = 0; t <= pos; t++) {
                sum += Math.exp(s[t] - max);
            }
            for (int t = 0; t <= pos; t++) {
                double p = Math.exp(s[t] - max) / sum;
                for (int i = 0; i < HEAD_DIM; i++) {
                    out[h * HEAD_DIM + i] += (float) (p * shadowV[layer][t * KV + off + i]);
                }
            }
        }
        return out;
    }

    private void keepShadow(int layer, int pos, float[] k, float[] v) {
        if ((pos + 1) * KV > shadowK[layer].length) {
            shadowK[layer] = Arrays.copyOf(shadowK[layer], shadowK[layer].length * 2);
            shadowV[layer] = Arrays.copyOf(shadowV[layer], shadowV[layer].length * 2);
        }
        System.arraycopy(k, 0, shadowK[layer], pos * KV, KV);
        System.arraycopy(v, 0, shadowV[layer], pos * KV, KV);
    }

    private static void write(long address, float[] row) {
        UnsafeBuffer b = new UnsafeBuffer(address, row.length * Float.BYTES);
        for (int i = 0; i < row.length; i++) {
            b.putFloat(i * Float.BYTES, row[i]);
        }
    }

    private static float dot(float[] a, int aOff, float[] b, int bOff) {
        float s = 0;
        for (int i = 0; i < HEAD_DIM; i++) {
            s += a[aOff + i] * b[bOff + i];
        }
        return s;
    }

    /** w (rows, x.length) times x. */
    private static float[] matvec(float[] w, float[] x, int rows) {
        float[] y = new float[rows];
        for (int r = 0; r < rows; r++) {
            float s = 0;
            for (int i = 0; i < x.length; i++) {
                s += w[r * x.length + i] * x[i];
            }
            y[r] = s;
        }
        return y;
    }

    private static double maxDiff(float[] a, float[] b) {
        double m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs(a[i] - b[i]));
        }
        return m;
    }

    private static float[] random(Random rnd, int n, double std) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) (rnd.nextGaussian() * std);
        }
        return a;
    }
}

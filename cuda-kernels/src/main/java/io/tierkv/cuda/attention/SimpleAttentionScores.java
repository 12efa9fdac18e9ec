package io.tierkv.cuda.attention;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** The oracle: one dot product per (head, token), scalar, straight from the definition. */
public final class SimpleAttentionScores implements AttentionScores<ByteBuffer> {

    @Override
    public String name() {
        return "java-simple";
    }

    @Override
    public void probabilities(float[] q, ScoreShape shape, ByteBuffer pool, int[] blocks, int tokens, float[] probs, int probsStride) {
        shape.check(q, pool.capacity(), blocks, tokens, probs, probsStride);
        ByteBuffer keys = pool.duplicate().order(ByteOrder.nativeOrder());
        int d = shape.headDim();
        for (int h = 0; h < shape.heads(); h++) {
            int g = h / shape.group();
            for (int t = 0; t < tokens; t++) {
                long at = shape.keyOffset(blocks, t, g);
                float acc = 0.0f;
                for (int i = 0; i < d; i++) {
                    acc += q[h * d + i] * keys.getFloat((int) (at + (long) i * Float.BYTES));
                }
                probs[h * probsStride + t] = shape.scale() * acc;
            }
        }
        Softmax.rows(probs, 0, shape.heads(), tokens, probsStride, probs, 0);
    }
}

package io.tierkv.cuda.attention;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The CPU mode's scores with the Vector API: for each token, its key row is loaded once per lane
 * chunk and multiplied into every query head of its group, so a key is read once per group, not once
 * per head. Loaded by name through {@link JavaAttentionScores#best()} only when
 * {@code jdk.incubator.vector} is present; never reference this class directly.
 */
final class VectorAttentionScores implements AttentionScores<ByteBuffer> {
    private static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;
    private static final ByteOrder ORDER = ByteOrder.nativeOrder();

    private FloatVector[] acc = new FloatVector[0];

    @Override
    public String name() {
        return "java-vector";
    }

    @Override
    public void probabilities(float[] q, ScoreShape shape, ByteBuffer pool, int[] blocks, int tokens, float[] probs, int probsStride) {
        shape.check(q, pool.capacity(), blocks, tokens, probs, probsStride);
        int d = shape.headDim();
        int group = shape.group();
        if (acc.length < group) {
            acc = new FloatVector[group];
        }
        int upper = SPECIES.loopBound(d);
        for (int g = 0; g < shape.kvHeads(); g++) {
            int firstHead = g * group;
            for (int t = 0; t < tokens; t++) {
                int at = (int) shape.keyOffset(blocks, t, g);
                for (int j = 0; j < group; j++) {
                    acc[j] = FloatVector.zero(SPECIES);
                }
                for (int i = 0; i < upper; i += SPECIES.length()) {
                    FloatVector k = FloatVector.fromByteBuffer(SPECIES, pool, at + i * Float.BYTES, ORDER);
                    for (int j = 0; j < group; j++) {
                        acc[j] = FloatVector.fromArray(SPECIES, q, (firstHead + j) * d + i).fma(k, acc[j]);
                    }
                }
                for (int j = 0; j < group; j++) {
                    int h = firstHead + j;
                    float s = acc[j].reduceLanes(VectorOperators.ADD);
                    for (int i = upper; i < d; i++) {
                        s += q[h * d + i] * pool.getFloat(at + i * Float.BYTES);
                    }
                    probs[h * probsStride + t] = shape.scale() * s;
                }
            }
        }
        Softmax.rows(probs, 0, shape.heads(), tokens, probsStride, probs, 0);
    }
}

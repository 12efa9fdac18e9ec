package io.tierkv.core.popularity;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link HeadSum} with the Vector API, in chunks of {@link #CHUNK} keys: each chunk's scores (16 KiB)
 * stay in L1 while every head's slice of the chunk is added to them, one vector at a time, in head
 * order; so each key's sum rounds exactly as in the scalar loop. Measured on the 2-core AMD EPYC build
 * machine (AVX-512), JDK 17, [32 x 32768]: 0.050 ms, against 0.174 ms for one vector of keys carried
 * across all 32 heads (32 concurrent strided streams) and 0.062 ms for a plain vector sum of the same
 * floats. Loaded only when {@code jdk.incubator.vector} is in the boot layer (see
 * {@link VectorSupport}); never reference this class directly.
 */
final class VectorHeadSum implements HeadSum {
    private static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;
    /** Keys per chunk: 4096 floats = 16 KiB of scores, well inside L1 (best of 512 to 4096 measured). */
    static final int CHUNK = 4096;

    @Override
    public void sum(float[] probs, int offset, int heads, int stride, int keys, float[] score) {
        int lanes = SPECIES.length();
        for (int t0 = 0; t0 < keys; t0 += CHUNK) {
            int t1 = Math.min(keys, t0 + CHUNK);
            int upper = t0 + SPECIES.loopBound(t1 - t0);
            for (int t = t0; t < upper; t += lanes) {
                FloatVector.fromArray(SPECIES, probs, offset + t).add(0.0f).intoArray(score, t);
            }
            for (int h = 1; h < heads; h++) {
                int row = offset + h * stride;
                for (int t = t0; t < upper; t += lanes) {
                    FloatVector.fromArray(SPECIES, score, t).add(FloatVector.fromArray(SPECIES, probs, row + t)).intoArray(score, t);
                }
            }
            for (int t = upper; t < t1; t++) {
                float s = 0.0f;
                for (int h = 0; h < heads; h++) {
                    s += probs[offset + h * stride + t];
                }
                score[t] = s;
            }
        }
    }

    @Override
    public int nextAtLeast(float[] values, int from, int to, float threshold) {
        int i = from;
        int upper = from + SPECIES.loopBound(to - from);
        for (; i < upper; i += SPECIES.length()) {
            VectorMask<Float> m = FloatVector.fromArray(SPECIES, values, i).compare(VectorOperators.GE, threshold);
            if (m.anyTrue()) {
                return i + m.firstTrue();
            }
        }
        while (i < to && !(values[i] >= threshold)) {
            i++;
        }
        return i;
    }
}

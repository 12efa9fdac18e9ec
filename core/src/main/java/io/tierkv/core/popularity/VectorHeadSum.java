package io.tierkv.core.popularity;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link HeadSum} with the Vector API: lanes run across keys, heads are added in order, so each key's
 * sum is rounded exactly as in the scalar loop. Loaded only when {@code jdk.incubator.vector} is in the
 * boot layer (see {@link VectorSupport}); never reference this class directly.
 */
final class VectorHeadSum implements HeadSum {
    private static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;

    @Override
    public void sum(float[] probs, int offset, int heads, int stride, int keys, float[] score) {
        int upper = SPECIES.loopBound(keys);
        for (int t = 0; t < upper; t += SPECIES.length()) {
            FloatVector acc = FloatVector.zero(SPECIES);
            for (int h = 0; h < heads; h++) {
                acc = acc.add(FloatVector.fromArray(SPECIES, probs, offset + h * stride + t));
            }
            acc.intoArray(score, t);
        }
        for (int t = upper; t < keys; t++) {
            float s = 0.0f;
            for (int h = 0; h < heads; h++) {
                s += probs[offset + h * stride + t];
            }
            score[t] = s;
        }
    }
}

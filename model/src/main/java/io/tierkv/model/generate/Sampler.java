package io.tierkv.model.generate;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Picks the next token from logits: greedy when {@code temperature == 0}, otherwise softmax at the
 * temperature restricted to the smallest set of tokens whose probability reaches {@code topP} (nucleus
 * sampling), drawn from a seeded generator so that a run can be repeated.
 */
public final class Sampler {
    private final double temperature;
    private final double topP;
    private final SplittableRandom random;
    private double[] probs = new double[0];
    private Integer[] order = new Integer[0];

    public Sampler(double temperature, double topP, long seed) {
        if (temperature < 0 || Double.isNaN(temperature)) {
            throw new IllegalArgumentException("temperature must be >= 0, was " + temperature);
        }
        if (!(topP > 0 && topP <= 1)) {
            throw new IllegalArgumentException("top-p must be in (0, 1], was " + topP);
        }
        this.temperature = temperature;
        this.topP = topP;
        this.random = new SplittableRandom(seed);
    }

    /** Greedy decoding. */
    public static Sampler greedy() {
        return new Sampler(0, 1, 0);
    }

    public int next(float[] logits) {
        if (temperature == 0) {
            return argmax(logits);
        }
        int n = logits.length;
        if (probs.length < n) {
            probs = new double[n];
            order = new Integer[n];
        }
        double max = Double.NEGATIVE_INFINITY;
        for (float l : logits) {
            max = Math.max(max, l);
        }
        double sum = 0;
        for (int i = 0; i < n; i++) {
            probs[i] = Math.exp((logits[i] - max) / temperature);
            sum += probs[i];
            order[i] = i;
        }
        for (int i = 0; i < n; i++) {
            probs[i] /= sum;
        }
        Arrays.sort(order, 0, n, (a, b) -> Double.compare(probs[b], probs[a]));
        double mass = 0;
        int keep = 0;
        while (keep < n && mass < topP) {
            mass += probs[order[keep++]];
        }
        double u = random.nextDouble() * mass;
        for (int i = 0; i < keep; i++) {
            u -= probs[order[i]];
            if (u <= 0) {
                return order[i];
            }
        }
        return order[keep - 1];
    }

    /**
     * Index of the largest logit, the lower index on ties; a NaN never wins (the CUDA decoder's {@code argmax} kernel's rule).
     *
     * @throws IllegalStateException when no logit is a number (a model whose weights or activations overflowed)
     */
    public static int argmax(float[] logits) {
        int best = -1;
        for (int i = 0; i < logits.length; i++) {
            if (!Float.isNaN(logits[i]) && (best < 0 || logits[i] > logits[best])) {
                best = i;
            }
        }
        if (best < 0) {
            throw new IllegalStateException("none of the " + logits.length + " logits is a number");
        }
        return best;
    }
}

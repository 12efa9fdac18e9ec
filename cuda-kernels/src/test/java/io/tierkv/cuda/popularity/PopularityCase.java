package io.tierkv.cuda.popularity;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * One conformance input: {@code heads} rows of {@code keys} probabilities at {@code offset} with
 * {@code stride}, and the k to select. {@link #all()} is the list every implementation is run on.
 */
record PopularityCase(String name, float[] probs, int offset, int heads, int stride, int keys, int k) {

    @Override
    public String toString() {
        return name + " [" + heads + " x " + keys + ", k=" + k + "]";
    }

    /** Random inputs, never all zeros, with ties, k = 1 and k = keys, keys around the kernel's tile (64) and block (256). */
    static List<PopularityCase> all() {
        List<PopularityCase> cases = new ArrayList<>();
        SplittableRandom rnd = new SplittableRandom(20261128);
        int[] keyCounts = {1, 2, 63, 64, 65, 255, 256, 257, 1000, 4099};
        for (int keys : keyCounts) {
            for (int heads : new int[] {1, 3, 32}) {
                for (int k : new int[] {1, 7, 64, keys, keys + 5}) {
                    if (k > keys + 5 || (heads == 32 && keys > 1000 && k != 64)) {
                        continue;
                    }
                    String kind = KINDS[Math.floorMod(keys * 31 + heads * 7 + k, KINDS.length)];
                    cases.add(make(kind, rnd, heads, keys, k));
                }
            }
        }
        // Every kind at one size where all four k regimes are exercised.
        for (String kind : KINDS) {
            for (int k : new int[] {1, 50, 517, 3000}) {
                cases.add(make(kind, rnd, 8, 3000, k));
            }
        }
        return cases;
    }

    static final String[] KINDS = {"softmax", "quantised-ties", "all-equal", "signed-zeros-and-negatives", "few-distinct-heavy", "tiny-subnormal"};

    static PopularityCase make(String kind, SplittableRandom rnd, int heads, int keys, int k) {
        int stride = keys + rnd.nextInt(0, 5);
        int offset = rnd.nextInt(0, 3);
        float[] probs = new float[offset + heads * stride + 2];
        for (int i = 0; i < probs.length; i++) {
            probs[i] = 1000f; // padding that must never be read as a key
        }
        for (int h = 0; h < heads; h++) {
            float[] row = row(kind, rnd, keys);
            System.arraycopy(row, 0, probs, offset + h * stride, keys);
        }
        return new PopularityCase(kind, probs, offset, heads, stride, keys, k);
    }

    private static float[] row(String kind, SplittableRandom rnd, int keys) {
        float[] r = new float[keys];
        switch (kind) {
            case "softmax": {
                double sum = 0;
                double[] e = new double[keys];
                for (int t = 0; t < keys; t++) {
                    e[t] = Math.exp(3 * rnd.nextGaussian());
                    sum += e[t];
                }
                for (int t = 0; t < keys; t++) {
                    r[t] = (float) (e[t] / sum);
                }
                break;
            }
            case "quantised-ties":
                for (int t = 0; t < keys; t++) {
                    r[t] = rnd.nextInt(0, 9) / 8f; // 9 distinct values: many exact ties
                }
                break;
            case "all-equal":
                java.util.Arrays.fill(r, 0.25f);
                break;
            case "signed-zeros-and-negatives":
                for (int t = 0; t < keys; t++) {
                    int c = rnd.nextInt(0, 4);
                    r[t] = c == 0 ? 0.0f : c == 1 ? -0.0f : c == 2 ? -rnd.nextInt(1, 4) : rnd.nextInt(1, 4);
                }
                break;
            case "few-distinct-heavy":
                for (int t = 0; t < keys; t++) {
                    r[t] = rnd.nextInt(0, 100) == 0 ? 0.5f : 1e-4f * rnd.nextInt(1, 3);
                }
                break;
            case "tiny-subnormal":
                for (int t = 0; t < keys; t++) {
                    r[t] = Float.MIN_VALUE * rnd.nextInt(1, 6);
                }
                break;
            default:
                throw new IllegalArgumentException(kind);
        }
        return r;
    }
}

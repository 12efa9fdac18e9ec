package io.tierkv.cuda.ops;

/**
 * The cos/sin tables {@code [positions][headDim / 2]} that the {@code rope} kernel reads, built from inverse
 * frequencies exactly as Hugging Face's Llama does: angle {@code (float) p * (float) invFreq[i]} rounded to
 * float, then {@code cos} and {@code sin}. llama3 scaling is applied to {@code invFreq} before
 * ({@link #llama3InvFreq}).
 */
public final class RopeTables {
    private RopeTables() {
    }

    /** {@code theta^(-2i / headDim)} for {@code i < headDim / 2}. */
    public static double[] invFreq(int headDim, double theta) {
        LaunchPlans.positive("headDim", headDim);
        double[] inv = new double[headDim / 2];
        for (int i = 0; i < inv.length; i++) {
            inv[i] = 1.0 / Math.pow(theta, (2.0 * i) / headDim);
        }
        return inv;
    }

    /** The llama3 rescaling of {@code invFreq} (Meta's rule: long wavelengths divided by factor, a smooth band between). */
    public static double[] llama3InvFreq(double[] invFreq, double factor, double lowFreqFactor, double highFreqFactor,
                                         int originalMaxPositions) {
        double lowWavelen = originalMaxPositions / lowFreqFactor;
        double highWavelen = originalMaxPositions / highFreqFactor;
        double[] out = invFreq.clone();
        for (int i = 0; i < out.length; i++) {
            double wavelen = 2 * Math.PI / out[i];
            if (wavelen > lowWavelen) {
                out[i] = out[i] / factor;
            } else if (wavelen >= highWavelen) {
                double smooth = (originalMaxPositions / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
                out[i] = (1 - smooth) * out[i] / factor + smooth * out[i];
            }
        }
        return out;
    }

    /** {@code {cos, sin}}, each {@code positions * invFreq.length} floats, row {@code p} for position {@code p}. */
    public static float[][] tables(double[] invFreq, int positions) {
        LaunchPlans.positive("positions", positions);
        int half = invFreq.length;
        float[] c = new float[positions * half];
        float[] s = new float[positions * half];
        for (int p = 0; p < positions; p++) {
            for (int i = 0; i < half; i++) {
                float angle = (float) p * (float) invFreq[i];
                c[p * half + i] = (float) Math.cos(angle);
                s[p * half + i] = (float) Math.sin(angle);
            }
        }
        return new float[][] {c, s};
    }
}

package io.tierkv.tiering;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** The tier manager's own mutable counters (the copy engine keeps the traffic); owner thread only. */
final class TierCounters {
    long stallNanos;
    long demotionsStarted;
    long promotionsStarted;
    long droppedBlocks;
    long evictedBlocks;
    /** (sample) sequence, step, device blocks, host blocks, kept tokens. */
    private int[] samples = new int[5 * 256];
    private int sampleCount;
    private long samplesDropped;

    void sample(int sequence, int step, int deviceBlocks, int hostBlocks, int keptTokens) {
        if (sampleCount == TierDefaults.RESIDENCY_SAMPLE_LIMIT) {
            samplesDropped++;
            return;
        }
        int i = sampleCount * 5;
        if (i + 5 > samples.length) {
            samples = Arrays.copyOf(samples, samples.length * 2);
        }
        samples[i] = sequence;
        samples[i + 1] = step;
        samples[i + 2] = deviceBlocks;
        samples[i + 3] = hostBlocks;
        samples[i + 4] = keptTokens;
        sampleCount++;
    }

    List<TierStats.ResidencySample> residency() {
        List<TierStats.ResidencySample> out = new ArrayList<>(sampleCount);
        for (int s = 0; s < sampleCount; s++) {
            int i = s * 5;
            out.add(new TierStats.ResidencySample(samples[i], samples[i + 1], samples[i + 2], samples[i + 3], samples[i + 4]));
        }
        return out;
    }

    long samplesDropped() {
        return samplesDropped;
    }
}

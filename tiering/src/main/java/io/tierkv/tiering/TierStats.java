package io.tierkv.tiering;

import java.util.List;

/**
 * A snapshot of a tier manager's traffic and residency: a plain record that reports print and Jackson
 * serialises as is. "Copies" are coalesced copy operations; "blocks" are slots (one block of one layer).
 *
 * @param backend                 {@code cpu} or {@code cuda}
 * @param engine                  the copy engine ({@code cpu-thread}, {@code cuda-streams})
 * @param slotBytes               bytes per block slot
 * @param deviceCapacityBlocks    device arena slots
 * @param hostCapacityBlocks      host arena slots
 * @param d2hBytes                bytes demoted device to host (completed copies)
 * @param d2hBlocks               blocks demoted
 * @param d2hCopies               copy operations device to host
 * @param h2dBytes                bytes promoted host to device
 * @param h2dBlocks               blocks promoted
 * @param h2dCopies               copy operations host to device
 * @param failedCopies            copy operations that failed (their blocks stayed in the source tier)
 * @param failedBlocks            blocks in failed copies
 * @param minCopyBytes            smallest copy, 0 if none
 * @param meanCopyBytes           mean bytes per copy
 * @param maxCopyBytes            largest copy
 * @param copySizeHistogram       {@code [i]}: copies of {@code [2^i, 2^(i+1))} blocks
 * @param copyNanos               time the engine spent copying (copy thread or CUDA events), both directions
 * @param stallNanos              time the owner thread waited for copies (to free device slots, at close)
 * @param demotionsStarted        blocks sent device to host (completed or not)
 * @param promotionsStarted       blocks sent host to device
 * @param droppedBlocks           blocks freed for lack of host room although the policy kept them (LOW)
 * @param evictedBlocks           blocks freed because all their tokens reached EVICT
 * @param deviceBlocks            device slots in use now
 * @param hostBlocks              host slots in use now
 * @param inFlightBlocks          blocks being copied now
 * @param deviceBlocksPeak        most device slots ever in use at once
 * @param hostBlocksPeak          most host slots ever in use at once
 * @param deviceBytesPeak         {@code deviceBlocksPeak * slotBytes}
 * @param hostBytesPeak           {@code hostBlocksPeak * slotBytes}
 * @param openSequences           sequences open now
 * @param residency               one sample per sequence step (and end of prefill), oldest first
 * @param residencySamplesDropped samples not kept beyond {@link TierDefaults#RESIDENCY_SAMPLE_LIMIT}
 */
public record TierStats(String backend, String engine, long slotBytes, int deviceCapacityBlocks, int hostCapacityBlocks,
                        long d2hBytes, long d2hBlocks, long d2hCopies, long h2dBytes, long h2dBlocks, long h2dCopies,
                        long failedCopies, long failedBlocks,
                        long minCopyBytes, double meanCopyBytes, long maxCopyBytes, long[] copySizeHistogram,
                        long copyNanos, long stallNanos,
                        long demotionsStarted, long promotionsStarted, long droppedBlocks, long evictedBlocks,
                        int deviceBlocks, int hostBlocks, int inFlightBlocks,
                        int deviceBlocksPeak, int hostBlocksPeak, long deviceBytesPeak, long hostBytesPeak,
                        int openSequences, List<ResidencySample> residency, long residencySamplesDropped) {

    /**
     * Where one sequence's blocks were after one step.
     *
     * @param sequence     the sequence's id
     * @param step         steps the sequence had taken (0 at the end of the prefill)
     * @param deviceBlocks blocks readers find on the device (all layers)
     * @param hostBlocks   blocks readers find on the host (all layers)
     * @param keptTokens   live tokens, mean over layers
     */
    public record ResidencySample(int sequence, int step, int deviceBlocks, int hostBlocks, int keptTokens) {
    }

    /**
     * The traffic since {@code earlier} (a snapshot of the same manager): counters (bytes, blocks, copies, times, frees,
     * size histogram) as differences, residency samples past the earlier ones; gauges, peaks and copy sizes as now.
     */
    public TierStats since(TierStats earlier) {
        long[] histogram = copySizeHistogram.clone();
        for (int i = 0; i < Math.min(histogram.length, earlier.copySizeHistogram.length); i++) {
            histogram[i] -= earlier.copySizeHistogram[i];
        }
        int skip = (int) Math.min(residency.size(), earlier.residency.size());
        return new TierStats(backend, engine, slotBytes, deviceCapacityBlocks, hostCapacityBlocks,
                d2hBytes - earlier.d2hBytes, d2hBlocks - earlier.d2hBlocks, d2hCopies - earlier.d2hCopies,
                h2dBytes - earlier.h2dBytes, h2dBlocks - earlier.h2dBlocks, h2dCopies - earlier.h2dCopies,
                failedCopies - earlier.failedCopies, failedBlocks - earlier.failedBlocks,
                minCopyBytes, meanCopyBytes, maxCopyBytes, histogram,
                copyNanos - earlier.copyNanos, stallNanos - earlier.stallNanos,
                demotionsStarted - earlier.demotionsStarted, promotionsStarted - earlier.promotionsStarted,
                droppedBlocks - earlier.droppedBlocks, evictedBlocks - earlier.evictedBlocks,
                deviceBlocks, hostBlocks, inFlightBlocks, deviceBlocksPeak, hostBlocksPeak, deviceBytesPeak, hostBytesPeak,
                openSequences, residency.subList(skip, residency.size()), residencySamplesDropped - earlier.residencySamplesDropped);
    }

    /** Copy operations in both directions. */
    public long copies() {
        return d2hCopies + h2dCopies;
    }

    /** One line for logs. */
    public String summary() {
        return String.format("%s: d2h %d blocks (%d copies), h2d %d blocks (%d copies), %d failed, %d dropped, %d evicted, "
                        + "device %d/%d (peak %d), host %d/%d (peak %d), copying %.1f ms, stalled %.1f ms",
                backend, d2hBlocks, d2hCopies, h2dBlocks, h2dCopies, failedCopies, droppedBlocks, evictedBlocks,
                deviceBlocks, deviceCapacityBlocks, deviceBlocksPeak, hostBlocks, hostCapacityBlocks, hostBlocksPeak,
                copyNanos / 1e6, stallNanos / 1e6);
    }
}

package io.tierkv.tiering.copy;

/**
 * A snapshot of a copy engine's traffic. "Copies" are submitted runs (after coalescing), "blocks" the
 * slots they moved. Failed copies are counted apart and moved nothing.
 *
 * @param d2hBytes          bytes moved device to host
 * @param d2hBlocks         blocks moved device to host
 * @param d2hCopies         copy operations device to host
 * @param d2hNanos          time the engine spent on device-to-host copies (copy thread, or CUDA events)
 * @param h2dBytes          bytes moved host to device
 * @param h2dBlocks         blocks moved host to device
 * @param h2dCopies         copy operations host to device
 * @param h2dNanos          time the engine spent on host-to-device copies
 * @param failedCopies      copy operations that failed (source left intact)
 * @param failedBlocks      blocks in failed copies
 * @param minCopyBytes      smallest successful copy, 0 if none
 * @param maxCopyBytes      largest successful copy
 * @param copySizeHistogram {@code [i]}: successful copies of {@code [2^i, 2^(i+1))} blocks
 */
public record CopyStats(long d2hBytes, long d2hBlocks, long d2hCopies, long d2hNanos,
                        long h2dBytes, long h2dBlocks, long h2dCopies, long h2dNanos,
                        long failedCopies, long failedBlocks,
                        long minCopyBytes, long maxCopyBytes, long[] copySizeHistogram) {

    /** Mean bytes per successful copy, 0 if none. */
    public double meanCopyBytes() {
        long copies = d2hCopies + h2dCopies;
        return copies == 0 ? 0 : (double) (d2hBytes + h2dBytes) / copies;
    }

    /** Nothing moved yet. */
    public static CopyStats empty() {
        return new CopyStats(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, new long[CopyCounters.HISTOGRAM_BUCKETS]);
    }
}

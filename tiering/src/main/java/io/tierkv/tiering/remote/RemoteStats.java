package io.tierkv.tiering.remote;

/**
 * What the remote tier did, as a plain record (Jackson writes it as is). Blocks are whole blocks of all
 * layers; latencies are in microseconds.
 *
 * @param lookups               prompt lookups
 * @param blocksLookedUp        block keys asked for
 * @param hits                  blocks found and valid (whether or not a gap before them made them unusable)
 * @param misses                blocks not found, not answered in time, or invalid
 * @param invalid               of the misses: values that failed a check (checksum, header, length)
 * @param failed                of the misses: keys not answered (timeout, error, store unreachable)
 * @param prefixBlocksHit       leading blocks returned as reusable prefixes
 * @param writes                blocks the store accepted
 * @param writesDropped         blocks not written: store error, full ({@code OOM}), unreachable, timed out, or too
 *                              many bytes in flight
 * @param writesSkipped         blocks not written on purpose: known to be in the store, or seen once under
 *                              {@link RemoteConfig.WritePolicy#SEEN_TWICE}
 * @param bytesRead             value bytes received
 * @param bytesWritten          value bytes the store accepted
 * @param lookupP50Micros       lookup latency percentiles (whole prompt lookups)
 * @param lookupP99Micros       .
 * @param lookupMaxMicros       .
 * @param writeP50Micros        write latency percentiles (one block, until the store answered)
 * @param writeP99Micros        .
 * @param writeMaxMicros        .
 */
public record RemoteStats(long lookups, long blocksLookedUp, long hits, long misses, long invalid, long failed,
                          long prefixBlocksHit, long writes, long writesDropped, long writesSkipped,
                          long bytesRead, long bytesWritten,
                          long lookupP50Micros, long lookupP99Micros, long lookupMaxMicros,
                          long writeP50Micros, long writeP99Micros, long writeMaxMicros) {

    /** Hits over blocks looked up; 0 before any lookup. */
    public double hitRatio() {
        return blocksLookedUp == 0 ? 0.0 : (double) hits / blocksLookedUp;
    }
}

package io.tierkv.bench.sim;

/**
 * The raw counters of one replay, kept by the {@link Simulator} (requests) and by {@link Residency}
 * (moves), never by a policy, so every policy is counted the same way. Derived figures (ratios, per
 * token, bytes) live in {@link SimResult} and are named once in {@link SimMetric}.
 *
 * <p>A <em>request</em> is one block touched by one layer's top-k at one step (several positions in a
 * block make one request). Counters without the {@code prefill} prefix cover the generated tokens only.
 */
public final class SimStats {
    /** Generated tokens replayed. */
    public long steps;
    /** Block requests, tail blocks included. */
    public long requests;
    /** Requests on a device-resident block (the tail always is). */
    public long hits;
    /** Of {@link #hits}, requests on the tail block being written. */
    public long tailHits;
    /** Requests not served from the device: host-resident blocks, and {@link #lost} ones. */
    public long misses;
    /** Of {@link #misses}, requests whose positions were all evicted by the policy: nothing can serve them. */
    public long lost;
    /** Top-k positions. */
    public long positions;
    /** Positions that were live and on a device-resident block. */
    public long positionHits;
    /** Positions the policy had evicted. */
    public long lostPositions;
    /** Blocks copied host to device (demand fetches and promotions). */
    public long h2dBlocks;
    /** Blocks copied device to host (demotions, and new blocks placed on the host). */
    public long d2hBlocks;
    /** Blocks that left the device (to the host or freed). */
    public long evictions;
    /** Blocks freed because all their tokens were evicted. */
    public long drops;
    public long prefillH2dBlocks;
    public long prefillD2hBlocks;
    public long prefillEvictions;
    public long prefillDrops;
    /** Most device blocks held at once (tail blocks excluded). */
    public long peakDeviceBlocks;
    /** Host blocks attention read, over layers and steps ({@link HostReads}). */
    public long hostBlocksRead;
    /** Host blocks an exact read would have read, over layers and steps. */
    public long hostBlocksExact;
    /** Digest mode: requested host blocks beyond the blocks read per layer and step. */
    public long skippedRequests;

    /** An independent copy. */
    public SimStats copy() {
        SimStats c = new SimStats();
        c.steps = steps;
        c.requests = requests;
        c.hits = hits;
        c.tailHits = tailHits;
        c.misses = misses;
        c.lost = lost;
        c.positions = positions;
        c.positionHits = positionHits;
        c.lostPositions = lostPositions;
        c.h2dBlocks = h2dBlocks;
        c.d2hBlocks = d2hBlocks;
        c.evictions = evictions;
        c.drops = drops;
        c.prefillH2dBlocks = prefillH2dBlocks;
        c.prefillD2hBlocks = prefillD2hBlocks;
        c.prefillEvictions = prefillEvictions;
        c.prefillDrops = prefillDrops;
        c.peakDeviceBlocks = peakDeviceBlocks;
        c.hostBlocksRead = hostBlocksRead;
        c.hostBlocksExact = hostBlocksExact;
        c.skippedRequests = skippedRequests;
        return c;
    }

    /** Re-checks that the counters add up. */
    public void checkInvariants() {
        if (hits + misses != requests) {
            throw new IllegalStateException("hits " + hits + " + misses " + misses + " != requests " + requests);
        }
        if (lost > misses || tailHits > hits) {
            throw new IllegalStateException("lost " + lost + " > misses " + misses + " or tail hits " + tailHits + " > hits " + hits);
        }
        if (hostBlocksRead > hostBlocksExact) {
            throw new IllegalStateException("host blocks read " + hostBlocksRead + " > exact " + hostBlocksExact);
        }
        if (positionHits + lostPositions > positions) {
            throw new IllegalStateException("position hits " + positionHits + " + lost " + lostPositions + " > positions " + positions);
        }
    }
}

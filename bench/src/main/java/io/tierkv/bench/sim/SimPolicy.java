package io.tierkv.bench.sim;

/**
 * A device-tier policy under replay: it is told about new blocks and about every top-k request, and
 * moves blocks only through {@link SimContext#residency()}. The {@link Simulator} classifies each
 * request (hit, miss, lost) before calling the policy and keeps all counts.
 *
 * <p>Protocol: {@link #start}, {@link #prefill}; then per generated token {@link #append}, then
 * {@link #admit} for each layer's block that just stopped being the tail, {@link #admitted}, then per layer the hits and
 * misses of its requests followed by {@link #observe}, then {@link #endStep}; finally
 * {@link #finished}. Implementations allocate nothing per request.
 */
public interface SimPolicy {

    /** The registry name, with options if any. */
    String name();

    /** True if the policy needs the future of the request stream ({@link SimContext#future()}). */
    default boolean needsFuture() {
        return false;
    }

    void start(SimContext context);

    /** Places the prompt's blocks {@code [0, fullBlocks)} of every layer, computed on the device. */
    void prefill(int fullBlocks);

    /** A generated token was appended to every layer (before its requests). */
    default void append() {
    }

    /** Block {@code block} of {@code layer} is full and no longer the tail: it is on the device now, uncounted. */
    void admit(int layer, int block);

    /** Every block that left the tail this step was {@link #admit admitted}; the step's requests follow. */
    default void admitted() {
    }

    /** True if the policy evicts tokens, so that a request can be lost ({@link #dropped}). */
    default boolean canDrop() {
        return false;
    }

    /** True if the policy evicted this token: a top-k hit on it cannot be served. */
    default boolean dropped(int layer, int position) {
        return false;
    }

    /** A request on a device-resident block; {@code request} indexes the request stream (tail requests excluded). */
    void onHit(int layer, int block, int request);

    /** A request on a host-resident block: fetch it to the device, or bypass (serve it from the host) if documented. */
    void onMiss(int layer, int block, int request);

    /** This step's top-k of one layer, after its requests were served. */
    default void observe(int layer, int[] positions, int n) {
    }

    /** The generated token {@code step} (0-based) is done. */
    default void endStep(int step) {
    }

    /** Re-checks the policy's invariants at the end of the replay. */
    void finished();
}

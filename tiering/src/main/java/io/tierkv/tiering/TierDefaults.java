package io.tierkv.tiering;

/** Every default of the tiering module, in one commented place. */
public final class TierDefaults {
    /**
     * Host arena slots per device arena slot when the host capacity is not given. The host tier is the
     * cheap one; four times the device keeps drops for lack of host room rare in the eval while the CPU
     * mode's slabs (allocated up front) stay small.
     */
    public static final int HOST_CAPACITY_FACTOR = 4;

    /**
     * Coalesced copies outstanding at most. Each costs a 24-byte ring record (CPU) or two events (CUDA);
     * 256 is far more than one decode step issues and bounds the rings at a few kilobytes.
     */
    public static final int MAX_IN_FLIGHT_COPIES = 256;

    /**
     * Bytes one coalesced copy may span. Large runs amortise per-copy overhead (a ring record and a
     * wake-up, or a driver call and an event); capping them keeps the first block of a run from waiting
     * behind a huge copy. At 16 MiB the CPU engine already runs at memcpy speed (see README).
     */
    public static final long MAX_RUN_BYTES = 16L << 20;

    /** Residency samples kept for plots; later ones are counted, not stored. */
    public static final int RESIDENCY_SAMPLE_LIMIT = 1 << 20;

    /**
     * Rounds of "no slot free, nothing arrived" the tier manager tolerates while making room for an append
     * before it gives up (only persistently failing copies get there).
     */
    public static final int MAX_ROOM_ATTEMPTS = 64;

    /**
     * Keys of each query's head-averaged attention that count as requests of their blocks for placement: the
     * hierarchical policy's default k, so the runtime requests what a recorded trace holds.
     */
    public static final int REQUEST_TOP_K = io.tierkv.core.policy.HierarchicalConfig.DEFAULT_TOP_K;

    /** The CUDA device the CUDA backend uses. */
    public static final int DEVICE_ORDINAL = 0;

    private TierDefaults() {
    }

    /** The run limit in slots for blocks of {@code slotBytes}: at least one. */
    public static int maxRunBlocks(long slotBytes) {
        return (int) Math.max(1, Math.min(Integer.MAX_VALUE, MAX_RUN_BYTES / slotBytes));
    }
}

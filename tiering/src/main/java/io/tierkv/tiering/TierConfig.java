package io.tierkv.tiering;

import io.tierkv.core.KvLayout;
import io.tierkv.cuda.driver.Backend;
import io.tierkv.cuda.driver.BackendSelection;
import io.tierkv.tiering.copy.CopyFaults;

/**
 * How to build a {@link TierManager}: the KV layout (which fixes the slot size, see {@link BlockDescriptor}),
 * the backend, and the capacity of each arena in block slots. Both arenas are allocated in full when the
 * manager is created; the device arena's capacity is the hard limit a GPU would impose, in the CPU mode too.
 *
 * @param layout               the KV layout; one slot holds one block of one layer
 * @param backend              {@link Backend#CPU} (off-heap arenas, copy thread) or {@link Backend#CUDA}
 * @param deviceCapacityBlocks slots in the device arena (> 0)
 * @param hostCapacityBlocks   slots in the host arena (> 0)
 * @param maxInFlightCopies    coalesced copies outstanding at most (> 0)
 * @param maxRunBlocks         blocks one coalesced copy may span (> 0)
 * @param deviceOrdinal        the CUDA device (CUDA only)
 * @param faults               fault injection for tests ({@link CopyFaults#NONE} otherwise)
 */
public record TierConfig(KvLayout layout, Backend backend, int deviceCapacityBlocks, int hostCapacityBlocks,
                         int maxInFlightCopies, int maxRunBlocks, int deviceOrdinal, CopyFaults faults) {

    public TierConfig {
        if (layout == null) {
            throw new IllegalArgumentException("layout must not be null");
        }
        if (backend == null) {
            throw new IllegalArgumentException("backend must not be null");
        }
        requirePositive("deviceCapacityBlocks", deviceCapacityBlocks);
        requirePositive("hostCapacityBlocks", hostCapacityBlocks);
        requirePositive("maxInFlightCopies", maxInFlightCopies);
        requirePositive("maxRunBlocks", maxRunBlocks);
        if (deviceOrdinal < 0) {
            throw new IllegalArgumentException("deviceOrdinal must be >= 0, was " + deviceOrdinal);
        }
        if (faults == null) {
            throw new IllegalArgumentException("faults must not be null (use CopyFaults.NONE)");
        }
        long slot = layout.blockBytes();
        checkSlabSize("device", slot, deviceCapacityBlocks);
        checkSlabSize("host", slot, hostCapacityBlocks);
    }

    /** The four settings of docs/tiering-api.md; copy settings take their defaults ({@link TierDefaults}). */
    public TierConfig(KvLayout layout, Backend backend, int deviceCapacityBlocks, int hostCapacityBlocks) {
        this(layout, backend, deviceCapacityBlocks, hostCapacityBlocks, TierDefaults.MAX_IN_FLIGHT_COPIES,
                layout == null ? 1 : TierDefaults.maxRunBlocks(layout.blockBytes()), TierDefaults.DEVICE_ORDINAL, CopyFaults.NONE);
    }

    /** A CPU-mode configuration with default copy settings. */
    public static TierConfig cpu(KvLayout layout, int deviceCapacityBlocks, int hostCapacityBlocks) {
        return builder(layout).backend(Backend.CPU).deviceCapacityBlocks(deviceCapacityBlocks)
                .hostCapacityBlocks(hostCapacityBlocks).build();
    }

    /** A builder; the backend defaults to the process-wide {@link BackendSelection}. */
    public static Builder builder(KvLayout layout) {
        return new Builder(layout);
    }

    /** Bytes of one slot (one block of one layer). */
    public long slotBytes() {
        return layout.blockBytes();
    }

    /** The same configuration with other fault injection. */
    public TierConfig withFaults(CopyFaults f) {
        return new TierConfig(layout, backend, deviceCapacityBlocks, hostCapacityBlocks, maxInFlightCopies, maxRunBlocks,
                deviceOrdinal, f);
    }

    private static void requirePositive(String name, int value) {
        if (value <= 0) {
            throw new IllegalArgumentException(name + " must be > 0, was " + value);
        }
    }

    private static void checkSlabSize(String tier, long slotBytes, int blocks) {
        try {
            Math.multiplyExact(slotBytes, (long) blocks);
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException(tier + " arena of " + blocks + " slots of " + slotBytes + " bytes overflows a long");
        }
    }

    /** Builds a {@link TierConfig}; capacities may be given in blocks or in bytes. */
    public static final class Builder {
        private final KvLayout layout;
        private Backend backend;
        private static final long NOT_SET = Long.MIN_VALUE;
        private long deviceBlocks = NOT_SET;
        private long hostBlocks = NOT_SET;
        private int maxInFlightCopies = TierDefaults.MAX_IN_FLIGHT_COPIES;
        private int maxRunBlocks = Integer.MIN_VALUE;
        private int deviceOrdinal = TierDefaults.DEVICE_ORDINAL;
        private CopyFaults faults = CopyFaults.NONE;

        private Builder(KvLayout layout) {
            if (layout == null) {
                throw new IllegalArgumentException("layout must not be null");
            }
            this.layout = layout;
        }

        public Builder backend(Backend b) {
            this.backend = b;
            return this;
        }

        public Builder deviceCapacityBlocks(int blocks) {
            this.deviceBlocks = blocks;
            return this;
        }

        public Builder hostCapacityBlocks(int blocks) {
            this.hostBlocks = blocks;
            return this;
        }

        /** The device arena's size in bytes; must be a whole number of slots. */
        public Builder deviceCapacityBytes(long bytes) {
            this.deviceBlocks = blocksOf("deviceCapacityBytes", bytes);
            return this;
        }

        /** The host arena's size in bytes; must be a whole number of slots. */
        public Builder hostCapacityBytes(long bytes) {
            this.hostBlocks = blocksOf("hostCapacityBytes", bytes);
            return this;
        }

        public Builder maxInFlightCopies(int copies) {
            this.maxInFlightCopies = copies;
            return this;
        }

        public Builder maxRunBlocks(int blocks) {
            this.maxRunBlocks = blocks;
            return this;
        }

        public Builder deviceOrdinal(int ordinal) {
            this.deviceOrdinal = ordinal;
            return this;
        }

        public Builder faults(CopyFaults f) {
            this.faults = f;
            return this;
        }

        private long blocksOf(String name, long bytes) {
            long slot = layout.blockBytes();
            if (bytes <= 0) {
                throw new IllegalArgumentException(name + " must be > 0, was " + bytes);
            }
            if (bytes % slot != 0) {
                throw new IllegalArgumentException(name + " = " + bytes + " is not a whole number of " + slot
                        + "-byte blocks (blockSize " + layout.blockSize() + " x kvHeads " + layout.kvHeads() + " x headDim "
                        + layout.headDim() + " x 2 x " + layout.dtype() + ")");
            }
            return bytes / slot;
        }

        public TierConfig build() {
            if (deviceBlocks == NOT_SET) {
                throw new IllegalArgumentException("deviceCapacityBlocks (or deviceCapacityBytes) must be given");
            }
            if (deviceBlocks > Integer.MAX_VALUE - 1) {
                throw new IllegalArgumentException("deviceCapacityBlocks must fit an int, was " + deviceBlocks);
            }
            long host = hostBlocks != NOT_SET ? hostBlocks : Math.min(Integer.MAX_VALUE - 1L, deviceBlocks * TierDefaults.HOST_CAPACITY_FACTOR);
            if (host > Integer.MAX_VALUE - 1) {
                throw new IllegalArgumentException("hostCapacityBlocks must fit an int, was " + host);
            }
            Backend b = backend != null ? backend : BackendSelection.select().backend();
            int run = maxRunBlocks != Integer.MIN_VALUE ? maxRunBlocks : TierDefaults.maxRunBlocks(layout.blockBytes());
            return new TierConfig(layout, b, (int) deviceBlocks, (int) host, maxInFlightCopies, run, deviceOrdinal, faults);
        }
    }
}

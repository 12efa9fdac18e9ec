package io.tierkv.bench.sim;

/**
 * Where every block of one replay lives, and the only code that moves blocks: a policy decides, this
 * class carries it out, checks that it is legal (the device never holds more than its capacity, a
 * block moves only from where it is) and counts it into {@link SimStats}. The tiers are exclusive, as
 * in the tier manager: demotion copies a block device to host and frees its device slot, promotion the
 * other way.
 *
 * <p>Block ids are {@code layer * blocksPerLayer + block} ({@link SimContext#id}). Tail blocks (the
 * one each layer is writing) are not tracked: they are always on the device, outside the capacity.
 */
public final class Residency {
    /** Not created yet (or still the tail). */
    public static final byte ABSENT = 0;
    public static final byte DEVICE = 1;
    public static final byte HOST = 2;
    /** Freed: every token of the block was evicted. */
    public static final byte DROPPED = 3;

    private final String policy;
    /** (id) where each block is. */
    private final byte[] where;
    private final int capacity;
    private final SimStats stats;
    private int deviceBlocks;
    private boolean prefill = true;

    Residency(String policy, int blocks, int capacity, SimStats stats) {
        this.policy = policy;
        this.where = new byte[blocks];
        this.capacity = capacity;
        this.stats = stats;
    }

    /** The counters this residency writes into. */
    SimStats stats() {
        return stats;
    }

    public byte where(int id) {
        return where[id];
    }

    /** Device blocks (tails excluded) the budget allows. */
    public int capacity() {
        return capacity;
    }

    public int deviceBlocks() {
        return deviceBlocks;
    }

    public boolean hasRoom() {
        return deviceBlocks < capacity;
    }

    /** The prompt is placed; moves from now on count per generated token. */
    void endPrefill() {
        prefill = false;
    }

    /** A new block (computed on the device) stays there. */
    public void admitToDevice(int id) {
        expect(id, ABSENT, "admit to the device");
        requireRoom(id);
        where[id] = DEVICE;
        deviceIn();
    }

    /** A new block (computed on the device) is copied to the host and its device slot freed. */
    public void admitToHost(int id) {
        expect(id, ABSENT, "admit to the host");
        where[id] = HOST;
        countDeviceToHost();
    }

    /** A new block whose tokens were all evicted before it left the tail: freed without a copy. */
    public void admitDropped(int id) {
        expect(id, ABSENT, "admit as dropped");
        where[id] = DROPPED;
        if (prefill) {
            stats.prefillDrops++;
        } else {
            stats.drops++;
        }
    }

    /** Host to device (a demand fetch or a promotion). */
    public void fetch(int id) {
        expect(id, HOST, "fetch");
        requireRoom(id);
        where[id] = DEVICE;
        deviceIn();
        if (prefill) {
            stats.prefillH2dBlocks++;
        } else {
            stats.h2dBlocks++;
        }
    }

    /** Device to host (an eviction from the device). */
    public void demote(int id) {
        expect(id, DEVICE, "demote");
        where[id] = HOST;
        deviceBlocks--;
        countDeviceToHost();
    }

    /** One block copied device to host: an eviction from the device, in the prefill's or the decode's figures. */
    private void countDeviceToHost() {
        if (prefill) {
            stats.prefillD2hBlocks++;
            stats.prefillEvictions++;
        } else {
            stats.d2hBlocks++;
            stats.evictions++;
        }
    }

    /** Frees a block from either tier, without a copy. */
    public void drop(int id) {
        byte w = where[id];
        if (w != DEVICE && w != HOST) {
            throw new IllegalStateException(policy + ": cannot drop block " + id + ", it is " + name(w));
        }
        where[id] = DROPPED;
        if (w == DEVICE) {
            deviceBlocks--;
            if (prefill) {
                stats.prefillEvictions++;
            } else {
                stats.evictions++;
            }
        }
        if (prefill) {
            stats.prefillDrops++;
        } else {
            stats.drops++;
        }
    }

    private void deviceIn() {
        deviceBlocks++;
        if (deviceBlocks > stats.peakDeviceBlocks) {
            stats.peakDeviceBlocks = deviceBlocks;
        }
    }

    private void requireRoom(int id) {
        if (deviceBlocks >= capacity) {
            throw new IllegalStateException(policy + ": block " + id + " would overfill the device (" + capacity + " blocks)");
        }
    }

    private void expect(int id, byte state, String what) {
        if (where[id] != state) {
            throw new IllegalStateException(policy + ": cannot " + what + " block " + id + ", it is " + name(where[id]));
        }
    }

    static String name(byte w) {
        switch (w) {
            case ABSENT: return "absent";
            case DEVICE: return "on the device";
            case HOST: return "on the host";
            case DROPPED: return "dropped";
            default: return "state " + w;
        }
    }

    /** Re-counts device blocks against the running count and the capacity. */
    void checkInvariants() {
        int n = 0;
        for (byte w : where) {
            if (w == DEVICE) {
                n++;
            }
        }
        if (n != deviceBlocks || n > capacity) {
            throw new IllegalStateException(policy + ": " + n + " device blocks, count says " + deviceBlocks + ", capacity " + capacity);
        }
    }
}

package io.tierkv.tiering;

import org.agrona.concurrent.UnsafeBuffer;

/**
 * The live blocks of one layer of one sequence, grouped by tier, for the model's attention: device blocks
 * are attended on the device, host blocks on the CPU, and the two partial results merged. Each list is
 * sorted by logical block; token {@code t} of block {@code b} is row {@code t - b * blockSize} of its slot
 * (see {@link BlockDescriptor}), and the last block may be partly filled ({@link #rows}).
 *
 * <p>A block whose copy is in flight appears in its <em>source</em> tier. Evicted and dropped blocks do not
 * appear; evicted tokens inside live blocks are the model's to mask ({@link Sequence#level}).
 *
 * <p>A view is reused: it is valid until the next {@code append}, {@code step}, {@code endPrefill} or
 * {@code close} of any sequence of the same manager (reaping copies happens only there). The {@code int[]}
 * accessors return the backing arrays; only the first {@code count} entries mean anything.
 *
 * <p>Besides raw addresses, a block's keys and values can be read through Agrona buffers
 * ({@link #deviceKeys(int, UnsafeBuffer)} and friends: flyweights wrapped around the slot, no copy, no
 * allocation); {@code (blockSize, kvHeads, headDim)} row-major of the layout's dtype, {@link #rows} valid.
 * Device memory that the CPU cannot address (the CUDA backend's) has addresses only.
 */
public final class LayerView {
    private final int layer;
    private final int blockSize;
    private final long deviceBase;
    private final long hostBase;
    private final long slotBytes;
    private final int halfBytes;
    private final boolean deviceHostAccessible;
    private int length;
    private int deviceCount;
    private int hostCount;
    /** (deviceCount) device slot and logical block of each device-resident block. */
    private int[] deviceSlots = new int[16];
    private int[] deviceBlocks = new int[16];
    /** (hostCount) host slot and logical block of each host-resident block. */
    private int[] hostSlots = new int[16];
    private int[] hostBlocks = new int[16];

    LayerView(int layer, BlockDescriptor descriptor, long deviceBase, long hostBase, boolean deviceHostAccessible) {
        this.layer = layer;
        this.blockSize = descriptor.blockSize();
        this.deviceBase = deviceBase;
        this.hostBase = hostBase;
        this.slotBytes = descriptor.slotBytes();
        this.halfBytes = Math.toIntExact(descriptor.halfBytes());
        this.deviceHostAccessible = deviceHostAccessible;
    }

    /** The sequence grew; the lists stay (no block opened, moved or closed). */
    void length(int length) {
        this.length = length;
    }

    void reset(int length) {
        this.length = length;
        deviceCount = 0;
        hostCount = 0;
    }

    void addDevice(int slot, int block) {
        if (deviceCount == deviceSlots.length) {
            deviceSlots = java.util.Arrays.copyOf(deviceSlots, deviceCount * 2);
            deviceBlocks = java.util.Arrays.copyOf(deviceBlocks, deviceCount * 2);
        }
        deviceSlots[deviceCount] = slot;
        deviceBlocks[deviceCount++] = block;
    }

    void addHost(int slot, int block) {
        if (hostCount == hostSlots.length) {
            hostSlots = java.util.Arrays.copyOf(hostSlots, hostCount * 2);
            hostBlocks = java.util.Arrays.copyOf(hostBlocks, hostCount * 2);
        }
        hostSlots[hostCount] = slot;
        hostBlocks[hostCount++] = block;
    }

    public int layer() {
        return layer;
    }

    /** Tokens in the sequence when the view was taken. */
    public int length() {
        return length;
    }

    public int blockSize() {
        return blockSize;
    }

    /** Valid rows of logical block {@code block}: {@code blockSize}, or fewer in the last block. */
    public int rows(int block) {
        return Math.max(0, Math.min(blockSize, length - block * blockSize));
    }

    public int deviceCount() {
        return deviceCount;
    }

    public int deviceSlot(int i) {
        check(i, deviceCount);
        return deviceSlots[i];
    }

    public int deviceBlock(int i) {
        check(i, deviceCount);
        return deviceBlocks[i];
    }

    /** Address of the {@code i}-th device block's slot (a device pointer on CUDA). */
    public long deviceAddress(int i) {
        return deviceBase + deviceSlot(i) * slotBytes;
    }

    public int hostCount() {
        return hostCount;
    }

    public int hostSlot(int i) {
        check(i, hostCount);
        return hostSlots[i];
    }

    public int hostBlock(int i) {
        check(i, hostCount);
        return hostBlocks[i];
    }

    /** Address of the {@code i}-th host block's slot. */
    public long hostAddress(int i) {
        return hostBase + hostSlot(i) * slotBytes;
    }

    /**
     * Wraps {@code into} around the keys of the {@code i}-th device block and returns it.
     *
     * @throws IllegalStateException when the device tier is memory the CPU cannot address (CUDA)
     */
    public UnsafeBuffer deviceKeys(int i, UnsafeBuffer into) {
        checkedDevice();
        into.wrap(deviceAddress(i), halfBytes);
        return into;
    }

    /** Wraps {@code into} around the values of the {@code i}-th device block; see {@link #deviceKeys}. */
    public UnsafeBuffer deviceValues(int i, UnsafeBuffer into) {
        checkedDevice();
        into.wrap(deviceAddress(i) + halfBytes, halfBytes);
        return into;
    }

    /** Wraps {@code into} around the keys of the {@code i}-th host block and returns it. */
    public UnsafeBuffer hostKeys(int i, UnsafeBuffer into) {
        into.wrap(hostAddress(i), halfBytes);
        return into;
    }

    /** Wraps {@code into} around the values of the {@code i}-th host block and returns it. */
    public UnsafeBuffer hostValues(int i, UnsafeBuffer into) {
        into.wrap(hostAddress(i) + halfBytes, halfBytes);
        return into;
    }

    private void checkedDevice() {
        if (!deviceHostAccessible) {
            throw new IllegalStateException("the device tier is CUDA memory, which the CPU cannot address: use deviceAddress");
        }
    }

    /** Backing array of device slots; the first {@link #deviceCount()} are valid. */
    public int[] deviceSlots() {
        return deviceSlots;
    }

    /** Backing array of device blocks' logical indexes; the first {@link #deviceCount()} are valid. */
    public int[] deviceBlocks() {
        return deviceBlocks;
    }

    /** Backing array of host slots; the first {@link #hostCount()} are valid. */
    public int[] hostSlots() {
        return hostSlots;
    }

    /** Backing array of host blocks' logical indexes; the first {@link #hostCount()} are valid. */
    public int[] hostBlocks() {
        return hostBlocks;
    }

    private static void check(int i, int count) {
        if (i < 0 || i >= count) {
            throw new IndexOutOfBoundsException("entry " + i + " of " + count);
        }
    }

    @Override
    public String toString() {
        return "LayerView[layer " + layer + ", device " + deviceCount + " blocks, host " + hostCount + " blocks]";
    }
}

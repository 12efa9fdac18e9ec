package io.tierkv.model.cuda;

import io.tierkv.cuda.ops.PagedKvShape;
import io.tierkv.cuda.ops.PagedPart;

/**
 * One sequence's K and V on the device, in paged blocks that {@code CudaPagedAttention} reads in place: every layer
 * owns a slab of {@code capacity} slots ({@link PagedKvShape}: K half {@code [blockSize][kvHeads][headDim]}, then the V
 * half, in the KV dtype), and all layers share one block table ({@link KvBlockTable}), mirrored on the device.
 *
 * <pre>
 *   slab  [layers][capacity] slots of slotBytes       layer l's slab starts at l * capacity * slotBytes
 *   slots i32 [capacity]   list entry -> slot          written when an append opens a block
 *   valid i32 [capacity]   valid rows per list entry   the last entry's count written on every append
 *   mask  u8  [capacity][blockSize]                    1 = the token at that position is evicted
 *   live  i32                                          list entries in use, for a captured step's attention
 * </pre>
 *
 * The device arrays are updated by the device's ordered sets ({@code cuMemset*Async} on the decoder's stream on a GPU),
 * so they are ordered with the launches that read them and nothing on the host needs fencing. The device owns the memory.
 */
final class PagedKvCache implements CapturableKvStore {
    final PagedKvShape shape;
    final int layers;
    final KvBlockTable table;
    private final StepDevice device;
    private final long slab;  // [layers][capacity][slotBytes] KV dtype
    private final long slots; // i32 [capacity]
    private final long valid; // i32 [capacity]
    private final long mask;  // u8 [capacity][blockSize]
    private final long live;  // i32: list entries in use
    private final long bytes;
    private int evicted;

    PagedKvCache(StepDevice device, PagedKvShape shape, int layers, int capacityBlocks) {
        this.device = device;
        this.shape = shape;
        this.layers = layers;
        this.table = new KvBlockTable(shape.blockSize(), capacityBlocks);
        long slabBytes = Math.multiplyExact(layerBytes(shape, capacityBlocks), (long) layers);
        long maskBytes = (long) capacityBlocks * shape.blockSize();
        this.slab = device.alloc(slabBytes);
        this.slots = device.alloc(4L * capacityBlocks);
        this.valid = device.alloc(4L * capacityBlocks);
        this.mask = device.alloc(maskBytes);
        this.live = device.alloc(4);
        device.fill(mask, maskBytes, (byte) 0);
        device.setInt(live, 0);
        this.bytes = slabBytes + 8L * capacityBlocks + maskBytes + 4;
    }

    /** Bytes of one layer's slab. */
    static long layerBytes(PagedKvShape shape, int capacityBlocks) {
        return Math.multiplyExact(shape.slotBytes(), (long) capacityBlocks);
    }

    long layerBytes() {
        return layerBytes(shape, table.capacityBlocks());
    }

    /** The base of layer {@code l}'s slab. */
    long layerSlab(int l) {
        if (l < 0 || l >= layers) {
            throw new IllegalArgumentException("layer " + l + " is outside [0, " + layers + ")");
        }
        return slab + l * layerBytes();
    }

    @Override
    public PagedKvShape shape() {
        return shape;
    }

    /** Claims the next position (opening a block when needed) and updates the device table; returns the position. */
    @Override
    public int append() {
        int position = table.append();
        int block = table.block(position);
        if (table.opensBlock(position)) {
            device.setInt(slots + 4L * block, table.slot(block));
            device.setInt(live, block + 1);
        }
        device.setInt(valid + 4L * block, table.row(position) + 1);
        return position;
    }

    @Override
    public void writeRows(int l, int first, int n, long k, long v) {
        long rowBytes = 4L * shape.kvHeads() * shape.headDim();
        for (int p = first; p < first + n; ) {
            int rows = Math.min(first + n - p, shape.blockSize() - table.row(p));
            device.appendRows(shape, layerSlab(l), table.capacityBlocks(), table.slot(table.block(p)), table.row(p), rows,
                    k + (p - first) * rowBytes, v + (p - first) * rowBytes);
            p += rows;
        }
    }

    @Override
    public long slot(int l, int position) {
        return layerSlab(l) + table.slot(table.block(position)) * shape.slotBytes();
    }

    @Override
    public void written(int l, int position) {
    }

    /**
     * The attention's plan (made for {@link #plannedBlocks}) and whether the evict mask is read: the captured launches' only
     * host-side values, so a sequence is captured again only when its block count passes a power of two or it starts evicting.
     */
    @Override
    public Object captureKey() {
        return 2L * plannedBlocks(table.blocks()) + (evicted > 0 ? 1 : 0);
    }

    /** The attention planned for the next power of two at or above {@code blocks} (at most the capacity), at least 1. */
    int plannedBlocks(int blocks) {
        int planned = blocks <= 1 ? 1 : Integer.highestOneBit(blocks - 1) << 1;
        return Math.min(planned, table.capacityBlocks());
    }

    @Override
    public void attendCaptured(int l, long q, float scale, long out, long lse) {
        device.attendLive(shape, q, layerSlab(l), layerBytes(), slots, valid, maskAddress(), 0, live, plannedBlocks(table.blocks()), scale,
                out, lse);
    }

    @Override
    public int slotIndex(int l, int position) {
        return table.slot(table.block(position));
    }

    @Override
    public long slab(int l) {
        return layerSlab(l);
    }

    @Override
    public void attend(int l, long q, float scale, long out, long lse) {
        device.attend(shape, q, layerSlab(l), layerBytes(), slots, valid, maskAddress(), 0, table.blocks(), scale, out, lse);
    }

    /** Any rows, across blocks: each row's attention stops at its own position. */
    @Override
    public int chunkRows(int max) {
        return Math.max(1, Math.min(max, table.capacityBlocks() * shape.blockSize() - table.tokens()));
    }

    /** One launch over every entry, row z cut at position {@code first + z} (entry b holds block b). */
    @Override
    public void attendRows(int l, int first, int n, long q, float scale, long out, long lse) {
        if (n < 1 || first < 0 || first + n != table.tokens()) {
            throw new IllegalArgumentException("rows " + first + " .. " + (first + n - 1) + " are not the last of the " + table.tokens()
                    + " cached tokens");
        }
        device.attendParts(shape, q, n, first, new PagedPart(layerSlab(l), layerBytes(), slots, valid, 0, maskAddress(), 0, table.blocks()),
                PagedPart.NONE, scale, out, lse);
    }

    @Override
    public void endPrefill() {
    }

    @Override
    public void step() {
    }

    @Override
    public int tokens() {
        return table.tokens();
    }

    /** Marks the token at {@code position} evicted: attention skips it from the next step on. */
    @Override
    public void evict(int position) {
        if (position < 0 || position >= table.tokens()) {
            throw new IllegalArgumentException("position " + position + " is outside the " + table.tokens() + " cached tokens");
        }
        device.fill(mask + position, 1, (byte) 1);
        evicted++;
    }

    /** Forgets every token (the slabs keep stale bytes that no list entry reaches). */
    @Override
    public void reset() {
        table.reset();
        device.setInt(live, 0);
        if (evicted > 0) {
            device.fill(mask, (long) table.capacityBlocks() * shape.blockSize(), (byte) 0);
            evicted = 0;
        }
    }

    long slotsAddress() {
        return slots;
    }

    long validAddress() {
        return valid;
    }

    /** The evict mask, or 0 when nothing was evicted (the kernel then skips the mask reads). */
    long maskAddress() {
        return evicted > 0 ? mask : 0L;
    }

    /** Device bytes held. */
    @Override
    public long bytes() {
        return bytes;
    }
}

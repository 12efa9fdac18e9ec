package io.tierkv.model.cuda;

import io.tierkv.cuda.driver.Cuda;
import io.tierkv.cuda.driver.CudaContext;
import io.tierkv.cuda.driver.CudaStream;
import io.tierkv.cuda.driver.DeviceBuffer;
import io.tierkv.cuda.ops.PagedKvShape;
import jcuda.driver.JCudaDriver;

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
 * </pre>
 *
 * The device arrays are updated by {@code cuMemset*Async} on the decoder's stream, so they are ordered with the launches
 * that read them and nothing on the host needs fencing.
 */
final class PagedKvCache implements AutoCloseable {
    final PagedKvShape shape;
    final int layers;
    final KvBlockTable table;
    private final DeviceBuffer slab;  // [layers][capacity][slotBytes] KV dtype
    private final DeviceBuffer slots; // i32 [capacity]
    private final DeviceBuffer valid; // i32 [capacity]
    private final DeviceBuffer mask;  // u8 [capacity][blockSize]
    private int evicted;

    PagedKvCache(CudaContext context, PagedKvShape shape, int layers, int capacityBlocks, CudaStream stream) {
        this.shape = shape;
        this.layers = layers;
        this.table = new KvBlockTable(shape.blockSize(), capacityBlocks);
        DeviceBuffer s = null;
        DeviceBuffer sl = null;
        DeviceBuffer v = null;
        DeviceBuffer m = null;
        try {
            s = new DeviceBuffer(context, Math.multiplyExact(layerBytes(shape, capacityBlocks), (long) layers));
            sl = new DeviceBuffer(context, 4L * capacityBlocks);
            v = new DeviceBuffer(context, 4L * capacityBlocks);
            m = new DeviceBuffer(context, (long) capacityBlocks * shape.blockSize());
            m.fill(0, m.bytes(), (byte) 0, stream);
        } catch (RuntimeException e) {
            for (DeviceBuffer b : new DeviceBuffer[] {m, v, sl, s}) {
                if (b != null) {
                    b.close();
                }
            }
            throw e;
        }
        this.slab = s;
        this.slots = sl;
        this.valid = v;
        this.mask = m;
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
        return slab.address() + l * layerBytes();
    }

    /** Claims the next position (opening a block when needed) and updates the device table; returns the position. */
    int append(CudaStream stream) {
        int position = table.append();
        int block = table.block(position);
        if (table.opensBlock(position)) {
            setInt(slots, block, table.slot(block), stream);
        }
        setInt(valid, block, table.row(position) + 1, stream);
        return position;
    }

    /** Marks the token at {@code position} evicted: attention skips it from the next step on. */
    void evict(int position, CudaStream stream) {
        if (position < 0 || position >= table.tokens()) {
            throw new IllegalArgumentException("position " + position + " is outside the " + table.tokens() + " cached tokens");
        }
        mask.fill(position, 1, (byte) 1, stream);
        evicted++;
    }

    /** Forgets every token (the slabs keep stale bytes that no list entry reaches). */
    void reset(CudaStream stream) {
        table.reset();
        if (evicted > 0) {
            mask.fill(0, mask.bytes(), (byte) 0, stream);
            evicted = 0;
        }
    }

    long slotsAddress() {
        return slots.address();
    }

    long validAddress() {
        return valid.address();
    }

    /** The evict mask, or 0 when nothing was evicted (the kernel then skips the mask reads). */
    long maskAddress() {
        return evicted > 0 ? mask.address() : 0L;
    }

    /** Device bytes held. */
    long bytes() {
        return slab.bytes() + slots.bytes() + valid.bytes() + mask.bytes();
    }

    private static void setInt(DeviceBuffer b, int index, int value, CudaStream stream) {
        b.context().makeCurrent();
        Cuda.check(JCudaDriver.cuMemsetD32Async(b.pointer(4L * index), value, 1, stream.handle()),
                "cuMemsetD32Async of entry " + index + " of " + b);
    }

    /** Frees the device memory; idempotent. The caller makes sure no launch still reads it. */
    @Override
    public void close() {
        mask.close();
        valid.close();
        slots.close();
        slab.close();
    }
}

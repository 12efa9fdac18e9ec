package io.tierkv.model.cuda;

import io.tierkv.cuda.ops.PagedKvShape;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The host tier's part of a layer's attention attended on the CPU ({@link HostAttention#CPU}), from the host slab where it
 * lies ({@link HostPartAttention}): per query row, the query comes down (the download waits for the kernels that wrote it),
 * the part's output and log-sum-exp go up, and the device merges them into the device part's, exactly. Only the query and
 * the part's result cross PCIe; the KV does not.
 *
 * <p>The popularity probabilities of a step's host positions ({@link #probs}) are computed here too, against the merged
 * log-sum-exp, and written into the layer's row on the device next to the device part's. Not thread-safe: one per
 * {@link TieredKvStore}, used from its decoder's thread.
 */
final class CpuHostPart {
    private final StepDevice device;
    private final PagedKvShape shape;
    private final long slab;            // the host tier's slab, read in place
    private final long slabBytes;
    private final HostPartAttention attention;
    private final long o2;              // device fp32 [heads][headDim]: the host part's output, merged into the device part's
    private final long lse2;            // device fp32 [heads]
    private final ByteBuffer io;        // the query down, the part's output and lse (or a layer's probabilities) up
    private final float[] q;            // (heads, headDim) the row's query, kept for the step's probabilities
    private final float[] out;          // (heads, headDim)
    private final float[] lse;          // (heads)
    private final float[] finalLse;     // (heads) the merged lse, read back for the probabilities
    private float[] probs;              // (heads, stride) a layer's probability row, allocated at the first observed step

    /** Device buffers come from {@code device} (freed with it); {@code maxTokens} bounds a probability row. */
    CpuHostPart(StepDevice device, PagedKvShape shape, long slab, long slabBytes, int maxTokens) {
        this.device = device;
        this.shape = shape;
        this.slab = slab;
        this.slabBytes = slabBytes;
        this.attention = new HostPartAttention(shape);
        int qFloats = shape.heads() * shape.headDim();
        this.o2 = device.alloc(4L * qFloats);
        this.lse2 = device.alloc(4L * shape.heads());
        this.q = new float[qFloats];
        this.out = new float[qFloats];
        this.lse = new float[shape.heads()];
        this.finalLse = new float[shape.heads()];
        this.io = ByteBuffer.allocate(4 * Math.max(qFloats + shape.heads(), shape.heads() * maxTokens)).order(ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * Merges layer l's host part into the device part's {@code rows} outputs and lse ({@code out [rows][heads][headDim]},
     * {@code lse [rows][heads]}), each row's host part attended on the CPU. Nothing to do when the part is empty.
     */
    void attend(BlockTables tables, int l, long qRows, int rows, float scale, long outRows, long lseRows) {
        if (tables.count(l, BlockTables.HOST) == 0) {
            return;
        }
        long qBytes = 4L * q.length;
        for (int t = 0; t < rows; t++) {
            attendRow(tables, l, qRows + t * qBytes, scale);
            long o = outRows + t * qBytes;
            long s = lseRows + 4L * t * shape.heads();
            device.merge(o, s, o2, lse2, o, s, shape.heads(), shape.headDim());
        }
    }

    /** Layer l's host part for the query at {@code qRow}: its output and lse uploaded to {@link #o2} / {@link #lse2}. */
    private void attendRow(BlockTables tables, int l, long qRow, float scale) {
        int h = BlockTables.HOST;
        io.clear().limit(4 * q.length);
        device.download(qRow, io);
        io.asFloatBuffer().get(q);
        attention.attend(q, slab, slabBytes, tables.slotsOf(l, h), tables.validRowsOf(l, h), tables.maskOf(l, h),
                tables.headMaskOf(l, h), tables.count(l, h), scale, out, lse);
        io.clear();
        io.asFloatBuffer().put(out);
        device.upload(o2, io.limit(4 * q.length));
        io.clear();
        io.asFloatBuffer().put(lse);
        device.upload(lse2, io.limit(4 * lse.length));
    }

    /**
     * The host part's probabilities of layer l for the one query {@link #attend} last took, against the merged lse (device
     * {@code [heads]}), written into the layer's row {@code p} ({@code [heads][stride]} on the device: a round trip of the
     * row, the device part's kernel wrote the rest).
     */
    void probs(BlockTables tables, int l, float scale, long mergedLse, long p, int stride) {
        int h = BlockTables.HOST;
        int n = tables.count(l, h);
        if (n == 0) {
            return;
        }
        int floats = shape.heads() * stride;
        if (probs == null) {
            probs = new float[floats];
        }
        io.clear().limit(4 * finalLse.length);
        device.download(mergedLse, io);
        io.asFloatBuffer().get(finalLse);
        io.clear().limit(4 * floats);
        device.download(p, io);
        io.asFloatBuffer().get(probs);
        attention.probs(q, slab, slabBytes, tables.slotsOf(l, h), tables.validRowsOf(l, h), tables.maskOf(l, h),
                tables.headMaskOf(l, h), tables.blocksOf(l, h), n, scale, finalLse, probs, stride);
        io.clear();
        io.asFloatBuffer().put(probs);
        device.upload(p, io.limit(4 * floats));
    }
}

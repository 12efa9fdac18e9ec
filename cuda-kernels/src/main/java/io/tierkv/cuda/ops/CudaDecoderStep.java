package io.tierkv.cuda.ops;

import io.tierkv.cuda.driver.CudaContext;
import io.tierkv.cuda.driver.CudaStream;
import io.tierkv.cuda.driver.KernelModule;
import io.tierkv.cuda.driver.LaunchArgs;

/**
 * The per-step kernels of a paged decoder that are neither math nor attention ({@code src/main/cuda/decoder_step.cu}):
 * appending one token's K and V to a slab slot in the slab's element type, and the greedy argmax over the logits.
 * All arguments are device addresses; each call enqueues one launch on {@code stream}. Not thread-safe (launch
 * arguments are reused).
 */
public final class CudaDecoderStep implements AutoCloseable {
    /** The module ({@code decoder_step.cu}). */
    public static final String MODULE = "decoder_step";
    static final int ARGMAX_THREADS = 1024;

    private final KernelModule module;

    /** Packed launch arguments (one native pointer per launch, see {@link LaunchArgs}). */
    private final LaunchArgs args;

    /** Loads the kernels into {@code context} (kept open by the caller, closed after this). */
    public CudaDecoderStep(CudaContext context) {
        LoadedModule loaded = LoadedModule.load(context, MODULE, 64, "kv_append", "argmax");
        this.module = loaded.module();
        this.args = loaded.args();
    }

    /**
     * Enqueues the write of one token's {@code k} and {@code v} ({@code [kvHeads * headDim]} fp32 each) into row
     * {@code row} of slot {@code slot} of the slab at {@code slab} ({@code capacity} slots of {@code shape}).
     */
    public void appendAsync(PagedKvShape shape, long slab, long capacity, int slot, int row, long k, long v, CudaStream stream) {
        appendRowsAsync(shape, slab, capacity, slot, row, 1, k, v, stream);
    }

    /**
     * {@link #appendAsync} of {@code rows} consecutive tokens ({@code k}, {@code v}: {@code [rows][kvHeads * headDim]} fp32)
     * into rows {@code row .. row + rows - 1} of slot {@code slot}, in one launch.
     */
    public void appendRowsAsync(PagedKvShape shape, long slab, long capacity, int slot, int row, int rows, long k, long v,
                                CudaStream stream) {
        checkAppend(shape, capacity, slot, row, rows);
        Args.address("slab", slab, 16);
        Args.address("k", k, 4);
        Args.address("v", v, 4);
        int rowElems = shape.kvHeads() * shape.headDim();
        // kv_append(k, v, slab, slotBytes, halfBytes, slot, row, rowElems, dtype, rows)
        args.clear().i64(k).i64(v).i64(slab).i64(shape.slotBytes()).i64(shape.halfBytes()).i32(slot).i32(row).i32(rowElems)
                .i32(DTypeCodes.code(shape.dtype())).i32(rows);
        module.launch("kv_append", LaunchPlans.strideBlocks((long) rows * rowElems), 1, LaunchPlans.THREADS, 0, stream, args);
    }

    /** The host checks of {@link #appendAsync}: the slot inside the slab, the row inside the block. */
    static void checkAppend(PagedKvShape shape, long capacity, int slot, int row) {
        checkAppend(shape, capacity, slot, row, 1);
    }

    /** The host checks of {@link #appendRowsAsync}: the slot inside the slab, the rows inside the block. */
    static void checkAppend(PagedKvShape shape, long capacity, int slot, int row, int rows) {
        if (slot < 0 || slot >= capacity) {
            throw new IllegalArgumentException("slot " + slot + " is outside the slab of " + capacity + " slots");
        }
        if (rows < 1 || row < 0 || row + rows > shape.blockSize()) {
            throw new IllegalArgumentException(rows == 1 ? "row " + row + " is outside a block of " + shape.blockSize() + " tokens"
                    : "rows " + row + " .. " + (row + rows - 1) + " are outside a block of " + shape.blockSize() + " tokens");
        }
    }

    /**
     * Enqueues {@code out = argmax(x[0 .. n - 1])} (device i32): the lowest index of the largest value; NaN never
     * wins, and {@code Integer.MAX_VALUE} comes out when no element is a number.
     */
    public void argmaxAsync(long x, int n, long out, CudaStream stream) {
        Args.positive("n", n);
        Args.address("x", x, 4);
        Args.address("out", out, 4);
        args.clear().i64(x).i32(n).i64(out); // argmax(x, n, out)
        module.launch("argmax", 1, 1, ARGMAX_THREADS, 0, stream, args);
    }

    /** Unloads the module; idempotent. The caller makes sure no launch is still queued. */
    @Override
    public void close() {
        try {
            module.close();
        } finally {
            args.close();
        }
    }
}

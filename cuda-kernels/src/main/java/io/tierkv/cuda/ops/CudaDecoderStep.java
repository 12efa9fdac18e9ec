package io.tierkv.cuda.ops;

import io.tierkv.cuda.driver.CudaContext;
import io.tierkv.cuda.driver.CudaStream;
import io.tierkv.cuda.driver.KernelModule;
import jcuda.Pointer;

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

    private final long[] kArg = new long[1];
    private final long[] vArg = new long[1];
    private final long[] slabArg = new long[1];
    private final long[] slotBytesArg = new long[1];
    private final long[] halfBytesArg = new long[1];
    private final int[] slotArg = new int[1];
    private final int[] rowArg = new int[1];
    private final int[] rowElemsArg = new int[1];
    private final int[] dtypeArg = new int[1];
    private final int[] nArg = new int[1];
    // kv_append(k, v, slab, slotBytes, halfBytes, slot, row, rowElems, dtype)
    private final Pointer appendParams = Pointer.to(Pointer.to(kArg), Pointer.to(vArg), Pointer.to(slabArg), Pointer.to(slotBytesArg),
            Pointer.to(halfBytesArg), Pointer.to(slotArg), Pointer.to(rowArg), Pointer.to(rowElemsArg), Pointer.to(dtypeArg));
    // argmax(x, n, out)
    private final Pointer argmaxParams = Pointer.to(Pointer.to(kArg), Pointer.to(nArg), Pointer.to(vArg));

    /** Loads the kernels into {@code context} (kept open by the caller, closed after this). */
    public CudaDecoderStep(CudaContext context) {
        this.module = KernelModule.load(context, MODULE);
        module.function("kv_append");
        module.function("argmax");
    }

    /**
     * Enqueues the write of one token's {@code k} and {@code v} ({@code [kvHeads * headDim]} fp32 each) into row
     * {@code row} of slot {@code slot} of the slab at {@code slab} ({@code capacity} slots of {@code shape}).
     */
    public void appendAsync(PagedKvShape shape, long slab, long capacity, int slot, int row, long k, long v, CudaStream stream) {
        checkAppend(shape, capacity, slot, row);
        Args.address("slab", slab, 16);
        Args.address("k", k, 4);
        Args.address("v", v, 4);
        int rowElems = shape.kvHeads() * shape.headDim();
        kArg[0] = k;
        vArg[0] = v;
        slabArg[0] = slab;
        slotBytesArg[0] = shape.slotBytes();
        halfBytesArg[0] = shape.halfBytes();
        slotArg[0] = slot;
        rowArg[0] = row;
        rowElemsArg[0] = rowElems;
        dtypeArg[0] = DTypeCodes.code(shape.dtype());
        module.launch("kv_append", LaunchPlans.strideBlocks(rowElems), 1, LaunchPlans.THREADS, 0, stream, appendParams);
    }

    /** The host checks of {@link #appendAsync}: the slot inside the slab, the row inside the block. */
    static void checkAppend(PagedKvShape shape, long capacity, int slot, int row) {
        if (slot < 0 || slot >= capacity) {
            throw new IllegalArgumentException("slot " + slot + " is outside the slab of " + capacity + " slots");
        }
        if (row < 0 || row >= shape.blockSize()) {
            throw new IllegalArgumentException("row " + row + " is outside a block of " + shape.blockSize() + " tokens");
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
        kArg[0] = x;
        nArg[0] = n;
        vArg[0] = out;
        module.launch("argmax", 1, 1, ARGMAX_THREADS, 0, stream, argmaxParams);
    }

    /** Unloads the module; idempotent. The caller makes sure no launch is still queued. */
    @Override
    public void close() {
        module.close();
    }
}

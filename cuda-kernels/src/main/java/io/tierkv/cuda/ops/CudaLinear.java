package io.tierkv.cuda.ops;

import io.tierkv.core.DType;
import io.tierkv.cuda.driver.CudaContext;
import io.tierkv.cuda.driver.CudaStream;
import io.tierkv.cuda.driver.KernelModule;
import io.tierkv.cuda.driver.LaunchArgs;
import java.util.Arrays;
import java.util.stream.Stream;

/**
 * Linear layers on the device ({@code src/main/cuda/linear.cu}): {@code y = W x} for decode (GEMV, one to eight
 * warps per output row, 16-byte streaming loads of the weights) and {@code Y = X W^T} for prefill chunks (64 x 64
 * tiled GEMM). W is row-major {@code [out][in]} in F32, F16 or BF16 (the checkpoint's dtype); activations are
 * fp32, accumulation fp32. An optional residual is added in the same pass ({@code y = W x + r}; r may be y).
 *
 * <p>All arguments are device addresses; every call only enqueues on {@code stream}. The 16-byte path of the
 * GEMV is taken when {@code in * elemBytes} is a multiple of 16 and W and x are 16-byte aligned; otherwise the
 * kernel reads element by element (any size, slower). Not thread-safe (launch arguments are reused).
 *
 * <p>Three fused GEMVs fold the RMSNorm of their input in ({@code x' = rmsnorm(x) * normW}, computed by every CTA with
 * {@code rmsnorm}'s own code, so x' has the same bits) and end in the layer's next elementwise step:
 * {@link #normGemvRopeAsync} (q, k, v, RoPE and the KV append) and {@link #normSwiGluAsync} (gate, up and SiLU) in each
 * layer, beside the plain {@link #gemvAsync} of wo and down, and {@link #normGemvAsync} for the LM head. Each equals the unfused launches it replaces bit for bit when both
 * run at the same warps per row ({@code FusedGemvGpuTest} checks this, on the CPU too under the driver emulator).
 */
public final class CudaLinear implements AutoCloseable {
    /** The module ({@code linear.cu}). */
    public static final String MODULE = "linear";

    // each kernel's name per weight dtype (by ordinal), built once rather than per launch
    private static final String[] GEMV = names("gemv_");
    private static final String[] GEMM = names("gemm_");
    private static final String[] NORM_GEMV = names("norm_gemv_");
    private static final String[] NORM_GEMV_ROPE = names("norm_gemv_rope_");
    private static final String[] NORM_GEMV_SWIGLU = names("norm_gemv_swiglu_");

    private final KernelModule module;
    private final int sms;

    /** Packed launch arguments (one native pointer per launch, see {@link LaunchArgs}). */
    private final LaunchArgs args;

    /** Loads the kernels into {@code context} (kept open by the caller, closed after this). */
    public CudaLinear(CudaContext context) {
        this.sms = context.device().multiprocessors();
        String[] kernels = Stream.of(GEMV, GEMM, NORM_GEMV, NORM_GEMV_ROPE, NORM_GEMV_SWIGLU).flatMap(Arrays::stream).toArray(String[]::new);
        LoadedModule loaded = LoadedModule.load(context, MODULE, 192, kernels);
        this.module = loaded.module();
        this.args = loaded.args();
    }

    /**
     * Enqueues {@code y[out] = W[out][in] . x[in] (+ residual[out])}.
     *
     * @param residual device address of {@code out} floats to add, or 0; may equal {@code y}
     */
    public void gemvAsync(long y, long w, DType wType, long x, long residual, int out, int in, CudaStream stream) {
        Args.positive("out", out);
        Args.positive("in", in);
        Args.address("y", y, 4);
        Args.address("w", w, wType.bytes());
        Args.address("x", x, 4);
        Args.optionalAddress("residual", residual, 4);
        refuseOverlap("GEMV", y, 4L * out, x, 4L * in);
        int warps = LaunchPlans.gemvWarpsPerRow(out, sms);
        args.clear().i64(w).i64(x).i64(y).i64(residual).i32(out).i32(in).i32(warps); // gemv_*(w, x, y, residual, out, in, warpsPerRow)
        module.launch(GEMV[wType.ordinal()], LaunchPlans.gemvBlocks(out, warps), 1, LaunchPlans.THREADS, 0, stream, args);
    }

    /**
     * Enqueues {@code Y[n][out] = X[n][in] . W[out][in]^T (+ residual[n][out])}; {@code n} is at most 65535 x 64.
     *
     * @param residual device address of {@code n * out} floats to add, or 0; may equal {@code y}
     */
    public void gemmAsync(long y, long x, long w, DType wType, long residual, int n, int out, int in, CudaStream stream) {
        Args.positive("in", in);
        int[] grid = LaunchPlans.gemmGrid(n, out);
        Args.address("y", y, 4);
        Args.address("x", x, 4);
        Args.address("w", w, wType.bytes());
        Args.optionalAddress("residual", residual, 4);
        refuseOverlap("GEMM", y, 4L * n * out, x, 4L * n * in);
        args.clear().i64(x).i64(w).i64(y).i64(residual).i32(n).i32(out).i32(in); // gemm_*(x, w, y, residual, n, out, in)
        module.launch(GEMM[wType.ordinal()], grid[0], grid[1], LaunchPlans.THREADS, 0, stream, args);
    }

    /**
     * Enqueues {@code y[out] = W[out][in] . x' (+ residual[out])}, {@code x' = rmsnorm(x, eps) * normW}: {@code rmsNormAsync}
     * into a scratch row and {@link #gemvAsync} of it, in one launch.
     *
     * @param normW    device address of {@code in} fp32 norm weights
     * @param residual device address of {@code out} floats to add, or 0; may equal {@code y}
     */
    public void normGemvAsync(long y, long w, DType wType, long x, long normW, float eps, long residual, int out, int in,
                              CudaStream stream) {
        checkFused(y, out, w, wType, x, normW, in);
        Args.optionalAddress("residual", residual, 4);
        int warps = LaunchPlans.gemvWarpsPerRow(out, sms);
        args.clear().i64(w).i64(x).i64(normW).f32(eps).i64(y).i64(residual).i32(out).i32(in).i32(warps);
        module.launch(NORM_GEMV[wType.ordinal()], LaunchPlans.gemvBlocks(out, warps), 1, LaunchPlans.THREADS, 0, stream, args);
    }

    /**
     * Enqueues the attention projections of one token with RoPE: {@code [q; k; v] = Wqkv x' (+ bias)}, W the stacked
     * {@code [heads + 2 kvHeads) * headDim][in]} matrix, then q's and k's heads rotated at {@code position} from the tables
     * {@code cos}, {@code sin} ({@code [tableRows][headDim / 2]} fp32), and, with a KV slot, the token's k and v written
     * into its row as {@link CudaDecoderStep#appendAsync} writes them: rmsNorm, the GEMV, rope and the append in one launch.
     *
     * @param qkv    device address of the {@code (heads + 2 kvHeads) * headDim} outputs, q then k then v; not overlapping x
     * @param bias   device address of as many fp32 biases, or 0
     * @param kv     the slab's geometry (its heads, KV heads and head dim those of the projection), or null with no slot
     * @param kvSlot device address of the token's block slot (its K half; 16-byte aligned), or 0 to write no KV
     * @param kvRow  the token's row in the block
     */
    public void normGemvRopeAsync(long qkv, long w, DType wType, long x, long normW, float eps, long bias, int heads, int kvHeads,
                                  int headDim, int position, long cos, long sin, int tableRows, int in, PagedKvShape kv, long kvSlot,
                                  int kvRow, CudaStream stream) {
        if (position < 0 || position >= tableRows) {
            throw new IllegalArgumentException("position " + position + " is outside the RoPE tables of " + tableRows + " rows");
        }
        if (kvSlot != 0) {
            checkSlab(kv, heads, kvHeads, headDim);
            CudaDecoderStep.checkAppend(kv, 1, 0, kvRow);
            Args.address("kvSlot", kvSlot, 16);
        }
        normGemvRope(qkv, w, wType, x, normW, eps, bias, heads, kvHeads, headDim, position, cos, sin, in, kv, kvSlot, kvRow, 0, stream);
    }

    /**
     * {@link #normGemvRopeAsync} with the step's values read on the device, as a launch captured in a {@link
     * io.tierkv.cuda.driver.CudaGraph} needs them: {@code params} holds i32 {@code {position, row, slot}}, and the token's
     * k and v go to row {@code row} of slot {@code slab + slot * kv.slotBytes()}. The caller keeps them in range (the
     * position inside the RoPE tables, the row inside the block, the slot inside the slab): the device cannot check.
     *
     * @param params device address of the three i32
     * @param slab   device address of slot 0 of the layer's slab (16-byte aligned)
     */
    public void normGemvRopeAtAsync(long qkv, long w, DType wType, long x, long normW, float eps, long bias, int heads, int kvHeads,
                                    int headDim, long params, long cos, long sin, int in, PagedKvShape kv, long slab, CudaStream stream) {
        Args.address("params", params, 4);
        checkSlab(kv, heads, kvHeads, headDim);
        Args.address("slab", slab, 16);
        normGemvRope(qkv, w, wType, x, normW, eps, bias, heads, kvHeads, headDim, 0, cos, sin, in, kv, slab, 0, params, stream);
    }

    private static void checkSlab(PagedKvShape kv, int heads, int kvHeads, int headDim) {
        if (kv == null || kv.heads() != heads || kv.kvHeads() != kvHeads || kv.headDim() != headDim) {
            throw new IllegalArgumentException("the KV slab " + kv + " does not hold " + heads + " heads, " + kvHeads + " KV heads of "
                    + headDim);
        }
    }

    // norm_gemv_rope_*(w, x, normW, eps, qkv, bias, out, in, warpsPerRow, qkRows, headDim, position, cos, sin, kvSlot, halfBytes,
    //                  kvRow, kvDtype, stepParams, slotBytes)
    private void normGemvRope(long qkv, long w, DType wType, long x, long normW, float eps, long bias, int heads, int kvHeads, int headDim,
                              int position, long cos, long sin, int in, PagedKvShape kv, long kvSlot, int kvRow, long params,
                              CudaStream stream) {
        Args.positive("heads", heads);
        Args.positive("kvHeads", kvHeads);
        if (headDim <= 0 || headDim % 2 != 0) {
            throw new IllegalArgumentException("headDim must be positive and even (rotate-half pairs), was " + headDim);
        }
        long rows = (long) (heads + 2L * kvHeads) * headDim;
        if (rows > Integer.MAX_VALUE) {
            throw new IllegalArgumentException((heads + 2L * kvHeads) + " heads x " + headDim + " rows do not fit an int");
        }
        int out = (int) rows;
        checkFused(qkv, out, w, wType, x, normW, in);
        Args.optionalAddress("bias", bias, 4);
        Args.address("cos", cos, 4);
        Args.address("sin", sin, 4);
        int warps = LaunchPlans.pairedGemvWarpsPerRow(out, sms);
        args.clear().i64(w).i64(x).i64(normW).f32(eps).i64(qkv).i64(bias).i32(out).i32(in).i32(warps)
                .i32((heads + kvHeads) * headDim).i32(headDim).i32(position).i64(cos).i64(sin)
                .i64(kvSlot).i64(kvSlot != 0 ? kv.halfBytes() : 0).i32(kvRow).i32(kvSlot != 0 ? DTypeCodes.code(kv.dtype()) : 0)
                .i64(params).i64(params != 0 ? kv.slotBytes() : 0);
        module.launch(NORM_GEMV_ROPE[wType.ordinal()], LaunchPlans.gemvBlocks(out, warps), 1, LaunchPlans.THREADS, 0, stream,
                args);
    }

    /**
     * Enqueues the MLP's first half of one token: {@code y[j] = silu(g_j) * u_j} for {@code j < out}, g and u the rows
     * {@code j} and {@code out + j} of the stacked {@code [gate; up]} matrix ({@code [2 out][in]}) times x': rmsNorm, the
     * GEMV and siluMul in one launch.
     *
     * @param y device address of {@code out} floats, not overlapping x
     */
    public void normSwiGluAsync(long y, long w, DType wType, long x, long normW, float eps, int out, int in, CudaStream stream) {
        Args.positive("out", out);
        if (2L * out > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("2 x " + out + " stacked rows do not fit an int");
        }
        checkFused(y, out, w, wType, x, normW, in);
        int warps = LaunchPlans.pairedGemvWarpsPerRow(2 * out, sms);
        args.clear().i64(w).i64(x).i64(normW).f32(eps).i64(y).i32(out).i32(in).i32(warps);
        module.launch(NORM_GEMV_SWIGLU[wType.ordinal()], LaunchPlans.gemvBlocks(2 * out, warps), 1, LaunchPlans.THREADS, 0,
                stream, args);
    }

    /** The fused GEMVs' common checks: every CTA reads all of x while others write y, so they must not overlap. */
    private static void checkFused(long y, int out, long w, DType wType, long x, long normW, int in) {
        Args.positive("out", out);
        Args.positive("in", in);
        Args.address("y", y, 4);
        Args.address("w", w, wType.bytes());
        Args.address("x", x, 4);
        Args.address("normW", normW, 4);
        refuseOverlap("fused GEMV", y, 4L * out, x, 4L * in);
    }

    /**
     * The output may not overlap the input: CTAs run in any order, and each reads input that others write (all of x for a
     * GEMV, a row of X for every column tile of a GEMM). Under a sequential emulator an overlap would pass; on a GPU it races.
     * Public for the host mirror of these launches, which refuses what they refuse.
     *
     * @throws IllegalArgumentException naming both ranges when {@code [y, y + yBytes)} and {@code [x, x + xBytes)} overlap
     */
    public static void refuseOverlap(String what, long y, long yBytes, long x, long xBytes) {
        if (y < x + xBytes && x < y + yBytes) {
            throw new IllegalArgumentException("the " + what + "'s output 0x" + Long.toHexString(y) + " + " + yBytes
                    + " bytes overlaps its input 0x" + Long.toHexString(x) + " + " + xBytes + " (CTAs read the input others write)");
        }
    }

    private static String[] names(String prefix) {
        String[] n = new String[DType.values().length];
        for (DType t : DType.values()) {
            n[t.ordinal()] = prefix + DTypeCodes.suffix(t);
        }
        return n;
    }

    /** Bytes the GEMV reads from the weights: what its GB/s is counted on. */
    public static long gemvWeightBytes(int out, int in, DType wType) {
        return (long) out * in * wType.bytes();
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

package io.tierkv.cuda.ops;

import io.tierkv.core.DType;
import io.tierkv.cuda.driver.CudaContext;
import io.tierkv.cuda.driver.CudaStream;
import io.tierkv.cuda.driver.KernelModule;
import io.tierkv.cuda.driver.LaunchArgs;

/**
 * Linear layers on the device ({@code src/main/cuda/linear.cu}): {@code y = W x} for decode (GEMV, one to eight
 * warps per output row, 16-byte streaming loads of the weights) and {@code Y = X W^T} for prefill chunks (64 x 64
 * tiled GEMM). W is row-major {@code [out][in]} in F32, F16 or BF16 (the checkpoint's dtype); activations are
 * fp32, accumulation fp32. An optional residual is added in the same pass ({@code y = W x + r}; r may be y).
 *
 * <p>All arguments are device addresses; every call only enqueues on {@code stream}. The 16-byte path of the
 * GEMV is taken when {@code in * elemBytes} is a multiple of 16 and W and x are 16-byte aligned; otherwise the
 * kernel reads element by element (any size, slower). Not thread-safe (launch arguments are reused).
 */
public final class CudaLinear implements AutoCloseable {
    /** The module ({@code linear.cu}). */
    public static final String MODULE = "linear";

    private final KernelModule module;
    private final int sms;

    /** Packed launch arguments (one native pointer per launch, see {@link LaunchArgs}). */
    private final LaunchArgs args;

    /** Loads the kernels into {@code context} (kept open by the caller, closed after this). */
    public CudaLinear(CudaContext context) {
        this.module = KernelModule.load(context, MODULE);
        this.sms = context.device().multiprocessors();
        this.args = new LaunchArgs(context, 64);
        for (DType t : DType.values()) {
            module.function("gemv_" + DTypeCodes.suffix(t));
            module.function("gemm_" + DTypeCodes.suffix(t));
        }
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
        int warps = LaunchPlans.gemvWarpsPerRow(out, sms);
        args.clear().i64(w).i64(x).i64(y).i64(residual).i32(out).i32(in).i32(warps); // gemv_*(w, x, y, residual, out, in, warpsPerRow)
        module.launch("gemv_" + DTypeCodes.suffix(wType), LaunchPlans.gemvBlocks(out, warps), 1, LaunchPlans.THREADS, 0, stream, args);
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
        args.clear().i64(x).i64(w).i64(y).i64(residual).i32(n).i32(out).i32(in); // gemm_*(x, w, y, residual, n, out, in)
        module.launch("gemm_" + DTypeCodes.suffix(wType), grid[0], grid[1], LaunchPlans.THREADS, 0, stream, args);
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

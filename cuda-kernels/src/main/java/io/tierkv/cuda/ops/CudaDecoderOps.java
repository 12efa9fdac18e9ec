package io.tierkv.cuda.ops;

import io.tierkv.core.DType;
import io.tierkv.cuda.driver.CudaContext;
import io.tierkv.cuda.driver.CudaStream;
import io.tierkv.cuda.driver.KernelModule;
import io.tierkv.cuda.driver.LaunchArgs;

/**
 * The small per-token operations of a Llama decoder on the device ({@code src/main/cuda/decoder_ops.cu}):
 * RMSNorm, rotate-half RoPE from cos/sin tables (llama3 scaling is in the tables, see {@link RopeTables}),
 * {@code silu(gate) * up}, residual add and the embedding gather. Activations are fp32; norm weights and
 * the embedding table may be F32, F16 or BF16. All arguments are device addresses; each call enqueues one
 * launch on {@code stream}. Not thread-safe (launch arguments are reused).
 */
public final class CudaDecoderOps implements AutoCloseable {
    /** The module ({@code decoder_ops.cu}). */
    public static final String MODULE = "decoder_ops";

    private final KernelModule module;

    /** Packed launch arguments (one native pointer per launch, see {@link LaunchArgs}). */
    private final LaunchArgs args;

    /** Loads the kernels into {@code context} (kept open by the caller, closed after this). */
    public CudaDecoderOps(CudaContext context) {
        LoadedModule loaded = LoadedModule.load(context, MODULE, 96, "rmsnorm", "rope", "silu_mul", "add", "embed");
        this.module = loaded.module();
        this.args = loaded.args();
    }

    /** Enqueues {@code out[r][i] = x[r][i] * rsqrt(mean(x[r]^2) + eps) * w[i]} for {@code rows} rows of {@code dim}; out may be x. */
    public void rmsNormAsync(long out, long x, long w, DType wType, int rows, int dim, float eps, CudaStream stream) {
        Args.positive("rows", rows);
        Args.positive("dim", dim);
        if (!(eps > 0)) {
            throw new IllegalArgumentException("eps must be > 0, was " + eps);
        }
        Args.address("out", out, 4);
        Args.address("x", x, 4);
        Args.address("w", w, wType.bytes());
        args.clear().i64(x).i64(out).i64(w).i32(DTypeCodes.code(wType)).i32(dim).f32(eps); // rmsnorm(x, out, w, wDtype, dim, eps)
        module.launch("rmsnorm", rows, 1, LaunchPlans.THREADS, 0, stream, args);
    }

    /**
     * Enqueues RoPE in place on {@code q [tokens][heads][headDim]} and {@code k [tokens][kvHeads][headDim]} (fp32)
     * for positions {@code start .. start + tokens - 1}, from {@code cos}, {@code sin}: {@code [tableRows][headDim / 2]}
     * fp32 ({@link RopeTables}). Rotate-half convention (Hugging Face Llama).
     */
    public void ropeAsync(long q, long k, int tokens, int heads, int kvHeads, int headDim, int start, long cos, long sin, int tableRows,
                          CudaStream stream) {
        checkRope(tokens, heads, kvHeads, headDim, start, tableRows);
        Args.address("q", q, 4);
        Args.address("k", k, 4);
        Args.address("cos", cos, 4);
        Args.address("sin", sin, 4);
        // rope(q, k, tokens, heads, kvHeads, headDim, start, cos, sin)
        args.clear().i64(q).i64(k).i32(tokens).i32(heads).i32(kvHeads).i32(headDim).i32(start).i64(cos).i64(sin);
        long elements = (long) tokens * (heads + kvHeads) * (headDim / 2);
        module.launch("rope", LaunchPlans.strideBlocks(elements), 1, LaunchPlans.THREADS, 0, stream, args);
    }

    /** The shape checks of {@link #ropeAsync}: even head dimension, positions inside the tables. */
    static void checkRope(int tokens, int heads, int kvHeads, int headDim, int start, int tableRows) {
        Args.positive("tokens", tokens);
        Args.positive("heads", heads);
        Args.positive("kvHeads", kvHeads);
        Args.positive("headDim", headDim);
        if (headDim % 2 != 0) {
            throw new IllegalArgumentException("headDim must be even for RoPE, was " + headDim);
        }
        if (start < 0 || (long) start + tokens > tableRows) {
            throw new IllegalArgumentException("positions [" + start + ", " + ((long) start + tokens) + ") are outside the RoPE tables of "
                    + tableRows + " rows");
        }
    }

    /** Enqueues {@code out[i] = silu(gate[i]) * up[i]} for {@code n} elements; out may be gate or up. */
    public void siluMulAsync(long out, long gate, long up, long n, CudaStream stream) {
        binary("silu_mul", gate, up, out, n, stream);
    }

    /** Enqueues {@code out[i] = a[i] + b[i]} for {@code n} elements; out may be a or b. */
    public void addAsync(long out, long a, long b, long n, CudaStream stream) {
        binary("add", a, b, out, n, stream);
    }

    private void binary(String function, long a, long b, long out, long n, CudaStream stream) {
        Args.positive("n", n);
        Args.address("first input", a, 4);
        Args.address("second input", b, 4);
        Args.address("out", out, 4);
        args.clear().i64(a).i64(b).i64(out).i64(n); // silu_mul(gate, up, out, n) and add(a, b, out, n)
        module.launch(function, LaunchPlans.strideBlocks(n), 1, LaunchPlans.THREADS, 0, stream, args);
    }

    /** Enqueues {@code out[0][d] = table[tokenId][d]} as fp32 (decode: the id travels as a kernel argument). */
    public void embedAsync(long out, long table, DType tableType, int vocab, int dim, int tokenId, CudaStream stream) {
        if (tokenId < 0 || tokenId >= vocab) {
            throw new IllegalArgumentException("token id " + tokenId + " is outside the vocabulary of " + vocab);
        }
        embed(out, table, tableType, vocab, dim, 0L, tokenId, 1, stream);
    }

    /**
     * Enqueues {@code out[t][d] = table[ids[t]][d]} as fp32 for {@code count} ids in device memory ({@code ids}, i32).
     * An id outside {@code [0, vocab)} yields a NaN row (the device cannot throw).
     */
    public void embedAsync(long out, long table, DType tableType, int vocab, int dim, long ids, int count, CudaStream stream) {
        Args.address("ids", ids, 4);
        embed(out, table, tableType, vocab, dim, ids, 0, count, stream);
    }

    private void embed(long out, long table, DType tableType, int vocab, int dim, long ids, int firstId, int count, CudaStream stream) {
        Args.positive("vocab", vocab);
        Args.positive("dim", dim);
        Args.positive("count", count);
        Args.address("out", out, 4);
        Args.address("table", table, tableType.bytes());
        // embed(table, dtype, vocab, dim, ids, firstId, count, out)
        args.clear().i64(table).i32(DTypeCodes.code(tableType)).i32(vocab).i32(dim).i64(ids).i32(firstId).i32(count).i64(out);
        module.launch("embed", LaunchPlans.strideBlocks((long) count * dim), 1, LaunchPlans.THREADS, 0, stream, args);
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

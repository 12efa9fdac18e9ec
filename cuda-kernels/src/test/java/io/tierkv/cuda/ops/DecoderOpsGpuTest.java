package io.tierkv.cuda.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.core.DType;
import io.tierkv.core.memory.MemoryLedger;
import io.tierkv.cuda.driver.CudaContext;
import io.tierkv.cuda.driver.CudaStream;
import io.tierkv.cuda.driver.DeviceBuffer;
import io.tierkv.cuda.driver.Gpu;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** Every decoder op on the device against {@link ReferenceOps}, on random inputs of odd and round sizes, in each dtype. */
@Tag("gpu")
class DecoderOpsGpuTest {
    /** fp32 accumulation against double: relative to the magnitude of the terms summed. */
    static final double TOLERANCE = 2e-5;

    @BeforeEach
    void needsGpu() {
        Gpu.assumeCuda();
    }

    static void assertClose(float[] expected, float[] actual, double scale, String what) {
        assertEquals(expected.length, actual.length, what);
        for (int i = 0; i < expected.length; i++) {
            double tol = TOLERANCE * Math.max(1, scale) * Math.max(1, Math.abs(expected[i]));
            assertTrue(Math.abs(expected[i] - actual[i]) <= tol,
                    what + " [" + i + "]: expected " + expected[i] + ", was " + actual[i] + " (tolerance " + tol + ")");
        }
    }

    @Test
    void gemvAndGemm_matchTheOracle_inEveryDtype_atOddAndRoundSizes() {
        SplittableRandom r = new SplittableRandom(1);
        MemoryLedger.Snapshot before = MemoryLedger.snapshot();
        int[][] shapes = {{1, 1}, {7, 3}, {33, 100}, {64, 256}, {130, 1000}, {768, 768}, {1000, 4104}, {5, 8192}};
        try (CudaContext ctx = CudaContext.primary(0); CudaStream s = new CudaStream(ctx); CudaLinear linear = new CudaLinear(ctx);
             DeviceArrays d = new DeviceArrays(ctx, s)) {
            for (DType t : DType.values()) {
                for (int[] shape : shapes) {
                    int out = shape[0];
                    int in = shape[1];
                    float[] w = DeviceArrays.random(r, out * in, 1, t);
                    float[] x = DeviceArrays.random(r, in, 1, DType.F32);
                    float[] res = DeviceArrays.random(r, out, 1, DType.F32);
                    DeviceBuffer dw = d.typed(w, t);
                    DeviceBuffer dx = d.floats(x);
                    DeviceBuffer dy = d.alloc(out * 4L);
                    linear.gemvAsync(dy.address(), dw.address(), t, dx.address(), 0, out, in, s);
                    assertClose(ReferenceOps.gemv(w, x, null, out, in), d.download(dy, out), Math.sqrt(in), "gemv " + t + " " + out + "x" + in);
                    DeviceBuffer dr = d.floats(res);
                    linear.gemvAsync(dr.address(), dw.address(), t, dx.address(), dr.address(), out, in, s);
                    assertClose(ReferenceOps.gemv(w, x, res, out, in), d.download(dr, out), Math.sqrt(in), "gemv+residual " + t);

                    for (int n : new int[] {1, 3, 65}) {
                        float[] xs = DeviceArrays.random(r, n * in, 1, DType.F32);
                        DeviceBuffer dxs = d.floats(xs);
                        DeviceBuffer dys = d.alloc((long) n * out * 4);
                        linear.gemmAsync(dys.address(), dxs.address(), dw.address(), t, 0, n, out, in, s);
                        assertClose(ReferenceOps.gemm(xs, w, null, n, out, in), d.download(dys, n * out), Math.sqrt(in),
                                "gemm " + t + " " + n + "x" + in + " . " + out + "x" + in);
                    }
                }
            }
        }
        before.assertNoLeaks();
    }

    /**
     * A prefill chunk's launches: the GEMM adding into its own residual (the decoder's residual stream is both), and
     * RMSNorm over rows and RoPE over tokens equal to the same kernels launched one row at a time, bit for bit.
     */
    @Test
    void chunkLaunches_gemmAddsIntoItsResidual_andRowsEqualTheirOneRowLaunches() {
        SplittableRandom r = new SplittableRandom(4);
        MemoryLedger.Snapshot before = MemoryLedger.snapshot();
        try (CudaContext ctx = CudaContext.primary(0); CudaStream s = new CudaStream(ctx); CudaLinear linear = new CudaLinear(ctx);
             CudaDecoderOps ops = new CudaDecoderOps(ctx); DeviceArrays d = new DeviceArrays(ctx, s)) {
            for (DType t : DType.values()) {
                // {rows, out, in, heads, kvHeads, headDim, start}: rows and outputs off the 64-row tiles and in off the
                // 16-wide k tile, then a full row tile
                for (int[] c : new int[][] {{5, 70, 96, 3, 1, 16, 9}, {64, 130, 64, 2, 2, 8, 0}}) {
                    int n = c[0];
                    int out = c[1];
                    int in = c[2];
                    String what = t + " chunk of " + n + " rows";
                    float[] w = DeviceArrays.random(r, out * in, 1, t);
                    float[] x = DeviceArrays.random(r, n * in, 2, DType.F32);
                    float[] res = DeviceArrays.random(r, n * out, 1, DType.F32);
                    DeviceBuffer dw = d.typed(w, t);
                    DeviceBuffer dx = d.floats(x);
                    DeviceBuffer dy = d.floats(res);
                    linear.gemmAsync(dy.address(), dx.address(), dw.address(), t, dy.address(), n, out, in, s);
                    assertClose(ReferenceOps.gemm(x, w, res, n, out, in), d.download(dy, n * out), Math.sqrt(in), "gemm into its residual, " + what);

                    float[] nw = DeviceArrays.random(r, in, 1, DType.F32);
                    DeviceBuffer dnw = d.floats(nw);
                    DeviceBuffer rows = d.alloc((long) n * in * 4);
                    DeviceBuffer one = d.alloc((long) n * in * 4);
                    ops.rmsNormAsync(rows.address(), dx.address(), dnw.address(), DType.F32, n, in, 1e-5f, s);
                    for (int i = 0; i < n; i++) {
                        long at = (long) i * in * 4;
                        ops.rmsNormAsync(one.address() + at, dx.address() + at, dnw.address(), DType.F32, 1, in, 1e-5f, s);
                    }
                    assertBitsEqual(d.download(one, n * in), d.download(rows, n * in), "rmsnorm of rows, " + what);

                    int heads = c[3];
                    int kvHeads = c[4];
                    int headDim = c[5];
                    int start = c[6];
                    float[] cos = DeviceArrays.random(r, (start + n) * headDim / 2, 1, DType.F32);
                    float[] sin = DeviceArrays.random(r, (start + n) * headDim / 2, 1, DType.F32);
                    DeviceBuffer dcos = d.floats(cos);
                    DeviceBuffer dsin = d.floats(sin);
                    int qw = heads * headDim;
                    int kw = kvHeads * headDim;
                    float[] q = DeviceArrays.random(r, n * qw, 2, DType.F32);
                    float[] k = DeviceArrays.random(r, n * kw, 2, DType.F32);
                    DeviceBuffer qRows = d.floats(q);
                    DeviceBuffer kRows = d.floats(k);
                    DeviceBuffer qOne = d.floats(q);
                    DeviceBuffer kOne = d.floats(k);
                    ops.ropeAsync(qRows.address(), kRows.address(), n, heads, kvHeads, headDim, start, dcos.address(), dsin.address(), start + n, s);
                    for (int i = 0; i < n; i++) {
                        ops.ropeAsync(qOne.address() + (long) i * qw * 4, kOne.address() + (long) i * kw * 4, 1, heads, kvHeads, headDim,
                                start + i, dcos.address(), dsin.address(), start + n, s);
                    }
                    assertBitsEqual(d.download(qOne, n * qw), d.download(qRows, n * qw), "rope of tokens (q), " + what);
                    assertBitsEqual(d.download(kOne, n * kw), d.download(kRows, n * kw), "rope of tokens (k), " + what);
                }
            }
        }
        before.assertNoLeaks();
    }

    static void assertBitsEqual(float[] expected, float[] actual, String what) {
        assertEquals(expected.length, actual.length, what);
        for (int i = 0; i < expected.length; i++) {
            if (Float.floatToRawIntBits(expected[i]) != Float.floatToRawIntBits(actual[i])) {
                throw new AssertionError(what + " [" + i + "]: one row at a time " + expected[i] + ", all rows " + actual[i]);
            }
        }
    }

    @Test
    void gemv_withUnalignedRows_takesTheScalarPathAndStillMatches() {
        SplittableRandom r = new SplittableRandom(2);
        try (CudaContext ctx = CudaContext.primary(0); CudaStream s = new CudaStream(ctx); CudaLinear linear = new CudaLinear(ctx);
             DeviceArrays d = new DeviceArrays(ctx, s)) {
            int out = 9;
            int in = 21; // 42 bytes per BF16 row: no 16-byte path
            float[] w = DeviceArrays.random(r, out * in + 1, 1, DType.BF16);
            float[] x = DeviceArrays.random(r, in + 1, 1, DType.F32);
            DeviceBuffer dw = d.typed(w, DType.BF16);
            DeviceBuffer dx = d.floats(x);
            DeviceBuffer dy = d.alloc(out * 4L);
            // W and x both start one element in: 2- and 4-byte aligned, not 16
            linear.gemvAsync(dy.address(), dw.address() + 2, DType.BF16, dx.address() + 4, 0, out, in, s);
            float[] wShift = java.util.Arrays.copyOfRange(w, 1, 1 + out * in);
            float[] xShift = java.util.Arrays.copyOfRange(x, 1, 1 + in);
            assertClose(ReferenceOps.gemv(wShift, xShift, null, out, in), d.download(dy, out), Math.sqrt(in), "unaligned gemv");
        }
    }

    @Test
    void rmsNormRopeSiluAddEmbed_matchTheOracle() {
        SplittableRandom r = new SplittableRandom(3);
        MemoryLedger.Snapshot before = MemoryLedger.snapshot();
        try (CudaContext ctx = CudaContext.primary(0); CudaStream s = new CudaStream(ctx); CudaDecoderOps ops = new CudaDecoderOps(ctx);
             DeviceArrays d = new DeviceArrays(ctx, s)) {
            for (DType t : DType.values()) {
                for (int[] rd : new int[][] {{1, 1}, {3, 7}, {2, 768}, {5, 4097}}) {
                    int rows = rd[0];
                    int dim = rd[1];
                    float[] x = DeviceArrays.random(r, rows * dim, 2, DType.F32);
                    float[] w = DeviceArrays.random(r, dim, 1, t);
                    DeviceBuffer dx = d.floats(x);
                    DeviceBuffer dw = d.typed(w, t);
                    DeviceBuffer dout = d.alloc((long) rows * dim * 4);
                    ops.rmsNormAsync(dout.address(), dx.address(), dw.address(), t, rows, dim, 1e-5f, s);
                    assertClose(ReferenceOps.rmsNorm(x, w, rows, dim, 1e-5f), d.download(dout, rows * dim), 1, "rmsnorm " + t + " " + rows + "x" + dim);

                    int vocab = 11;
                    float[] table = DeviceArrays.random(r, vocab * dim, 1, t);
                    DeviceBuffer dt = d.typed(table, t);
                    int[] ids = {10, 0, 3, 3};
                    DeviceBuffer dids = d.ints(ids);
                    DeviceBuffer de = d.alloc((long) ids.length * dim * 4);
                    ops.embedAsync(de.address(), dt.address(), t, vocab, dim, dids.address(), ids.length, s);
                    assertEquals(java.util.Arrays.toString(ReferenceOps.embed(table, dim, ids)),
                            java.util.Arrays.toString(d.download(de, ids.length * dim)), "embed " + t);
                    ops.embedAsync(de.address(), dt.address(), t, vocab, dim, 7, s);
                    assertEquals(java.util.Arrays.toString(ReferenceOps.embed(table, dim, new int[] {7})),
                            java.util.Arrays.toString(d.download(de, dim)), "embed one id " + t);
                }
            }
            for (long n : new long[] {1, 255, 256, 257, 100_003}) {
                float[] a = DeviceArrays.random(r, (int) n, 3, DType.F32);
                float[] b = DeviceArrays.random(r, (int) n, 3, DType.F32);
                DeviceBuffer da = d.floats(a);
                DeviceBuffer db = d.floats(b);
                DeviceBuffer dout = d.alloc(n * 4);
                ops.siluMulAsync(dout.address(), da.address(), db.address(), n, s);
                assertClose(ReferenceOps.siluMul(a, b), d.download(dout, (int) n), 1, "silu_mul " + n);
                ops.addAsync(da.address(), da.address(), db.address(), n, s); // in place
                assertClose(ReferenceOps.add(a, b), d.download(da, (int) n), 0, "add " + n);
            }
            double[] inv = RopeTables.llama3InvFreq(RopeTables.invFreq(64, 500000), 8, 1, 4, 8192);
            float[][] tab = RopeTables.tables(inv, 300);
            DeviceBuffer dcos = d.floats(tab[0]);
            DeviceBuffer dsin = d.floats(tab[1]);
            for (int[] shape : new int[][] {{1, 4, 2, 257}, {13, 6, 3, 40}}) {
                int tokens = shape[0];
                int heads = shape[1];
                int kvHeads = shape[2];
                int start = shape[3];
                float[] q = DeviceArrays.random(r, tokens * heads * 64, 1, DType.F32);
                float[] k = DeviceArrays.random(r, tokens * kvHeads * 64, 1, DType.F32);
                DeviceBuffer dq = d.floats(q);
                DeviceBuffer dk = d.floats(k);
                ops.ropeAsync(dq.address(), dk.address(), tokens, heads, kvHeads, 64, start, dcos.address(), dsin.address(), 300, s);
                ReferenceOps.rope(q, tokens, heads, 64, start, tab[0], tab[1]);
                ReferenceOps.rope(k, tokens, kvHeads, 64, start, tab[0], tab[1]);
                assertClose(q, d.download(dq, q.length), 1, "rope q");
                assertClose(k, d.download(dk, k.length), 1, "rope k");
            }
        }
        before.assertNoLeaks();
    }
}

package io.tierkv.cuda.ops;

import static io.tierkv.cuda.ops.DecoderOpsGpuTest.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.tierkv.core.DType;
import io.tierkv.core.memory.MemoryLedger;
import io.tierkv.cuda.driver.CudaContext;
import io.tierkv.cuda.driver.CudaStream;
import io.tierkv.cuda.driver.DeviceBuffer;
import io.tierkv.cuda.driver.Gpu;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The fused decode GEMVs ({@code norm_gemv}, {@code norm_gemv_rope}, {@code norm_gemv_swiglu}) on the device against the
 * launches they replace (rmsNorm, gemv, rope, kv_append, siluMul: the same bits where both run at the same warps per row) and against
 * {@link ReferenceOps}, in every dtype, at round and odd sizes.
 */
@Tag("gpu")
class FusedGemvGpuTest {
    static final float EPS = 1e-5f;

    @BeforeEach
    void needsGpu() {
        Gpu.assumeCuda();
    }

    @Test
    void normGemv_equalsRmsNormThenGemv() {
        SplittableRandom r = new SplittableRandom(11);
        MemoryLedger.Snapshot before = MemoryLedger.snapshot();
        try (CudaContext ctx = CudaContext.primary(0); CudaStream s = new CudaStream(ctx); CudaLinear linear = new CudaLinear(ctx);
             CudaDecoderOps ops = new CudaDecoderOps(ctx); DeviceArrays d = new DeviceArrays(ctx, s)) {
            for (DType t : DType.values()) {
                for (int[] shape : new int[][] {{1, 8}, {37, 100}, {768, 768}, {32000, 768}, {5, 4104}}) {
                    int out = shape[0];
                    int in = shape[1];
                    float[] w = DeviceArrays.random(r, out * in, 0.05, t);
                    float[] x = DeviceArrays.random(r, in, 2, DType.F32);
                    float[] nw = DeviceArrays.random(r, in, 1, DType.F32);
                    float[] res = DeviceArrays.random(r, out, 1, DType.F32);
                    DeviceBuffer dw = d.typed(w, t);
                    DeviceBuffer dx = d.floats(x);
                    DeviceBuffer dnw = d.floats(nw);
                    DeviceBuffer dr = d.floats(res);
                    DeviceBuffer xn = d.alloc(in * 4L);
                    DeviceBuffer unfused = d.alloc(out * 4L);
                    DeviceBuffer fused = d.alloc(out * 4L);
                    ops.rmsNormAsync(xn.address(), dx.address(), dnw.address(), DType.F32, 1, in, EPS, s);
                    linear.gemvAsync(unfused.address(), dw.address(), t, xn.address(), dr.address(), out, in, s);
                    linear.normGemvAsync(fused.address(), dw.address(), t, dx.address(), dnw.address(), EPS, dr.address(), out, in, s);
                    String what = "norm_gemv " + t + " " + out + "x" + in;
                    float[] got = d.download(fused, out);
                    assertArrayEquals(d.download(unfused, out), got, what + ": fused and unfused differ");
                    float[] ref = ReferenceOps.gemv(w, ReferenceOps.rmsNorm(x, nw, 1, in, EPS), res, out, in);
                    assertClose(ref, got, Math.sqrt(in), what);
                }
            }
        }
        before.assertNoLeaks();
    }

    @Test
    void normGemvRope_equalsRmsNormGemvRopeThenAppend() {
        SplittableRandom r = new SplittableRandom(12);
        MemoryLedger.Snapshot before = MemoryLedger.snapshot();
        double[] inv = RopeTables.llama3InvFreq(RopeTables.invFreq(64, 500000), 8, 1, 4, 8192);
        float[][] tab64 = RopeTables.tables(inv, 300);
        float[][] tab16 = RopeTables.tables(RopeTables.invFreq(16, 10000), 300);
        try (CudaContext ctx = CudaContext.primary(0); CudaStream s = new CudaStream(ctx); CudaLinear linear = new CudaLinear(ctx);
             CudaDecoderOps ops = new CudaDecoderOps(ctx); CudaDecoderStep step = new CudaDecoderStep(ctx); DeviceArrays d = new DeviceArrays(ctx, s)) {
            for (DType t : DType.values()) {
                // {heads, kvHeads, headDim, in, position}
                for (int[] shape : new int[][] {{12, 12, 64, 768, 0}, {4, 2, 16, 96, 299}, {32, 8, 64, 2048, 123}, {3, 1, 64, 200, 7}}) {
                    int heads = shape[0];
                    int kvHeads = shape[1];
                    int headDim = shape[2];
                    int in = shape[3];
                    int position = shape[4];
                    float[][] tab = headDim == 64 ? tab64 : tab16;
                    int q = heads * headDim;
                    int kv = kvHeads * headDim;
                    int out = q + 2 * kv;
                    float[] w = DeviceArrays.random(r, out * in, 0.05, t);
                    float[] x = DeviceArrays.random(r, in, 2, DType.F32);
                    float[] nw = DeviceArrays.random(r, in, 1, DType.F32);
                    float[] bias = DeviceArrays.random(r, out, 1, DType.F32);
                    DeviceBuffer dw = d.typed(w, t);
                    DeviceBuffer dx = d.floats(x);
                    DeviceBuffer dnw = d.floats(nw);
                    DeviceBuffer db = d.floats(bias);
                    DeviceBuffer dcos = d.floats(tab[0]);
                    DeviceBuffer dsin = d.floats(tab[1]);
                    DeviceBuffer xn = d.alloc(in * 4L);
                    DeviceBuffer unfused = d.alloc(out * 4L);
                    DeviceBuffer fused = d.alloc(out * 4L);
                    ops.rmsNormAsync(xn.address(), dx.address(), dnw.address(), DType.F32, 1, in, EPS, s);
                    linear.gemvAsync(unfused.address(), dw.address(), t, xn.address(), db.address(), out, in, s);
                    ops.ropeAsync(unfused.address(), unfused.address() + 4L * q, 1, heads, kvHeads, headDim, position, dcos.address(),
                            dsin.address(), 300, s);
                    // the KV append: one slot of 16 rows in the projection's dtype, the token at row position % 16
                    PagedKvShape kvShape = PagedKvShape.dense(t, heads, kvHeads, headDim, 16);
                    DeviceBuffer slotUnfused = d.alloc(kvShape.slotBytes());
                    DeviceBuffer slotFused = d.alloc(kvShape.slotBytes());
                    slotUnfused.fill(0, kvShape.slotBytes(), (byte) 0x5a, s);
                    slotFused.fill(0, kvShape.slotBytes(), (byte) 0x5a, s);
                    step.appendAsync(kvShape, slotUnfused.address(), 1, 0, position % 16, unfused.address() + 4L * q,
                            unfused.address() + 4L * (q + kv), s);
                    linear.normGemvRopeAsync(fused.address(), dw.address(), t, dx.address(), dnw.address(), EPS, db.address(), heads, kvHeads,
                            headDim, position, dcos.address(), dsin.address(), 300, in, kvShape, slotFused.address(), position % 16, s);
                    String what = "norm_gemv_rope " + t + " " + heads + "/" + kvHeads + "x" + headDim + " in " + in + " at " + position;
                    float[] got = d.download(fused, out);
                    // the same sums; the rotation may be contracted into FMAs differently in the two kernels
                    assertClose(d.download(unfused, out), got, 1, what + " against the unfused launches");
                    float[] ref = ReferenceOps.gemv(w, ReferenceOps.rmsNorm(x, nw, 1, in, EPS), bias, out, in);
                    float[] rq = Arrays.copyOfRange(ref, 0, q);
                    float[] rk = Arrays.copyOfRange(ref, q, q + kv);
                    ReferenceOps.rope(rq, 1, heads, headDim, position, tab[0], tab[1]);
                    ReferenceOps.rope(rk, 1, kvHeads, headDim, position, tab[0], tab[1]);
                    System.arraycopy(rq, 0, ref, 0, q);
                    System.arraycopy(rk, 0, ref, q, kv);
                    assertClose(ref, got, Math.sqrt(in), what);
                    assertArrayEquals(d.bytes(slotUnfused, (int) kvShape.slotBytes()), d.bytes(slotFused, (int) kvShape.slotBytes()),
                            what + ": the slot as kv_append writes it");
                }
            }
        }
        before.assertNoLeaks();
    }

    @Test
    void normSwiGlu_equalsRmsNormGemvThenSiluMul() {
        SplittableRandom r = new SplittableRandom(13);
        MemoryLedger.Snapshot before = MemoryLedger.snapshot();
        try (CudaContext ctx = CudaContext.primary(0); CudaStream s = new CudaStream(ctx); CudaLinear linear = new CudaLinear(ctx);
             CudaDecoderOps ops = new CudaDecoderOps(ctx); DeviceArrays d = new DeviceArrays(ctx, s)) {
            for (DType t : DType.values()) {
                for (int[] shape : new int[][] {{3072, 768}, {41, 96}, {7, 100}, {352, 128}}) {
                    int inter = shape[0];
                    int in = shape[1];
                    float[] w = DeviceArrays.random(r, 2 * inter * in, 0.05, t);
                    float[] x = DeviceArrays.random(r, in, 2, DType.F32);
                    float[] nw = DeviceArrays.random(r, in, 1, DType.F32);
                    DeviceBuffer dw = d.typed(w, t);
                    DeviceBuffer dx = d.floats(x);
                    DeviceBuffer dnw = d.floats(nw);
                    DeviceBuffer xn = d.alloc(in * 4L);
                    DeviceBuffer gateUp = d.alloc(8L * inter);
                    DeviceBuffer unfused = d.alloc(4L * inter);
                    DeviceBuffer fused = d.alloc(4L * inter);
                    ops.rmsNormAsync(xn.address(), dx.address(), dnw.address(), DType.F32, 1, in, EPS, s);
                    linear.gemvAsync(gateUp.address(), dw.address(), t, xn.address(), 0, 2 * inter, in, s);
                    ops.siluMulAsync(unfused.address(), gateUp.address(), gateUp.address() + 4L * inter, inter, s);
                    linear.normSwiGluAsync(fused.address(), dw.address(), t, dx.address(), dnw.address(), EPS, inter, in, s);
                    String what = "norm_gemv_swiglu " + t + " " + inter + "x" + in;
                    float[] got = d.download(fused, inter);
                    assertClose(d.download(unfused, inter), got, 1, what + " against the unfused launches");
                    float[] both = ReferenceOps.gemv(w, ReferenceOps.rmsNorm(x, nw, 1, in, EPS), null, 2 * inter, in);
                    float[] ref = ReferenceOps.siluMul(Arrays.copyOfRange(both, 0, inter), Arrays.copyOfRange(both, inter, 2 * inter));
                    assertClose(ref, got, Math.sqrt(in), what);
                }
            }
        }
        before.assertNoLeaks();
    }

    @Test
    void fusedGemv_refusesAnOutputOverlappingItsInput() {
        try (CudaContext ctx = CudaContext.primary(0); CudaStream s = new CudaStream(ctx); CudaLinear linear = new CudaLinear(ctx);
             DeviceArrays d = new DeviceArrays(ctx, s)) {
            DeviceBuffer b = d.alloc(4096);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> linear.normGemvAsync(b.address() + 64,
                    b.address(), DType.F32, b.address(), b.address(), EPS, 0, 8, 32, s));
            org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains("overlaps its input"), e.getMessage());
        }
    }
}

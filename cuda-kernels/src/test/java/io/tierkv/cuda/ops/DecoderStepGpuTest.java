package io.tierkv.cuda.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.tierkv.core.DType;
import io.tierkv.cuda.driver.CudaContext;
import io.tierkv.cuda.driver.CudaStream;
import io.tierkv.cuda.driver.DeviceBuffer;
import io.tierkv.cuda.driver.Gpu;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** {@code decoder_step.cu} on the device: the K/V append in every dtype against host rounding, argmax against a scan. */
@Tag("gpu")
class DecoderStepGpuTest {
    @BeforeEach
    void needsGpu() {
        Gpu.assumeCuda();
    }

    @Test
    void append_writesTheRowOfTheSlotRoundedToTheSlabDtype_andNothingElse_andRowsInOneLaunchAsOneByOne() {
        SplittableRandom r = new SplittableRandom(7);
        try (CudaContext ctx = CudaContext.primary(0); CudaStream s = new CudaStream(ctx); CudaDecoderStep step = new CudaDecoderStep(ctx);
             DeviceArrays d = new DeviceArrays(ctx, s)) {
            for (DType t : DType.values()) {
                PagedKvShape shape = shape(t);
                int capacity = 5;
                int rowElems = shape.kvHeads() * shape.headDim();
                long slabBytes = capacity * shape.slotBytes();
                DeviceBuffer slab = zeroed(d, s, slabBytes);
                float[] k = DeviceArrays.random(r, rowElems, 1, DType.F32);
                float[] v = DeviceArrays.random(r, rowElems, 1, DType.F32);
                step.appendAsync(shape, slab.address(), capacity, 3, 5, d.floats(k).address(), d.floats(v).address(), s);
                float[] all = readSlab(d, slab, t, (int) (slabBytes / t.bytes()));
                long kStart = (3 * shape.slotBytes()) / t.bytes() + 5L * rowElems;
                long vStart = kStart + shape.halfBytes() / t.bytes();
                for (int i = 0; i < all.length; i++) {
                    float expected = 0;
                    if (i >= kStart && i < kStart + rowElems) {
                        expected = HalfFloats.round(k[(int) (i - kStart)], t);
                    } else if (i >= vStart && i < vStart + rowElems) {
                        expected = HalfFloats.round(v[(int) (i - vStart)], t);
                    }
                    assertEquals(expected, all[i], 0f, t + " slab element " + i);
                }
                // several rows in one launch (rows 2 .. 6 of slot 1) write what one launch per row writes
                int n = 5;
                DeviceBuffer rows = zeroed(d, s, slabBytes);
                DeviceBuffer one = zeroed(d, s, slabBytes);
                DeviceBuffer kn = d.floats(DeviceArrays.random(r, n * rowElems, 1, DType.F32));
                DeviceBuffer vn = d.floats(DeviceArrays.random(r, n * rowElems, 1, DType.F32));
                step.appendRowsAsync(shape, rows.address(), capacity, 1, 2, n, kn.address(), vn.address(), s);
                for (int j = 0; j < n; j++) {
                    step.appendAsync(shape, one.address(), capacity, 1, 2 + j, kn.address() + 4L * j * rowElems,
                            vn.address() + 4L * j * rowElems, s);
                }
                org.junit.jupiter.api.Assertions.assertArrayEquals(readSlab(d, one, t, (int) (slabBytes / t.bytes())),
                        readSlab(d, rows, t, (int) (slabBytes / t.bytes())), t + ": the slab after one launch of 5 rows");
            }
        }
    }

    /** The appends' slab geometry: 6 / 3 heads of 40, blocks of 8, in {@code t}. */
    private static PagedKvShape shape(DType t) {
        return PagedKvShape.dense(t, 6, 3, 40, 8);
    }

    /** {@code bytes} of device memory, zeroed on {@code s}. */
    private static DeviceBuffer zeroed(DeviceArrays d, CudaStream s, long bytes) {
        DeviceBuffer b = d.alloc(bytes);
        b.fill(0, bytes, (byte) 0, s);
        return b;
    }

    /** The slab as floats: F32 as is, 16-bit elements widened (F32 reads of a 16-bit slab hold two elements each). */
    private static float[] readSlab(DeviceArrays d, DeviceBuffer slab, DType t, int elements) {
        if (t == DType.F32) {
            return d.download(slab, elements);
        }
        float[] words = d.download(slab, elements / 2);
        float[] out = new float[elements];
        for (int i = 0; i < words.length; i++) {
            int bits = Float.floatToRawIntBits(words[i]);
            short lo = (short) (bits & 0xffff);
            short hi = (short) (bits >>> 16);
            out[2 * i] = t == DType.BF16 ? HalfFloats.fromBf16(lo) : HalfFloats.fromF16(lo);
            out[2 * i + 1] = t == DType.BF16 ? HalfFloats.fromBf16(hi) : HalfFloats.fromF16(hi);
        }
        return out;
    }

    @Test
    void argmax_findsTheLowestIndexOfTheLargest_atOddAndLargeSizes() {
        SplittableRandom r = new SplittableRandom(11);
        try (CudaContext ctx = CudaContext.primary(0); CudaStream s = new CudaStream(ctx); CudaDecoderStep step = new CudaDecoderStep(ctx);
             DeviceArrays d = new DeviceArrays(ctx, s)) {
            DeviceBuffer out = d.alloc(16);
            for (int n : new int[] {1, 2, 31, 1023, 1024, 1025, 32000, 128256}) {
                float[] x = DeviceArrays.random(r, n, 1, DType.F32);
                int planted = r.nextInt(n);
                x[planted] = 10f;
                if (n > 3) {
                    x[n - 1] = 10f; // a tie at a higher index loses
                }
                step.argmaxAsync(d.floats(x).address(), n, out.address(), s);
                int got = Float.floatToRawIntBits(d.download(out, 1)[0]);
                assertEquals(Math.min(planted, n > 3 ? n - 1 : planted), got, "argmax of " + n);
            }
            float[] ties = new float[3000]; // all equal: index 0
            java.util.Arrays.fill(ties, -1.5f);
            step.argmaxAsync(d.floats(ties).address(), ties.length, out.address(), s);
            assertEquals(0, Float.floatToRawIntBits(d.download(out, 1)[0]));
        }
    }
}

package io.tierkv.cuda.check;

import io.tierkv.core.DType;
import io.tierkv.cuda.driver.CudaContext;
import io.tierkv.cuda.driver.CudaCopies;
import io.tierkv.cuda.driver.CudaStream;
import io.tierkv.cuda.driver.DeviceBuffer;
import io.tierkv.cuda.driver.PinnedBuffer;
import io.tierkv.cuda.ops.CudaLinear;
import io.tierkv.cuda.ops.CudaPagedAttention;
import io.tierkv.cuda.ops.HalfFloats;
import io.tierkv.cuda.ops.PagedKvShape;
import io.tierkv.cuda.ops.ReferenceOps;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The GPU check's decoder rows: GEMV weight streaming (weights larger than the L2 cache, in BF16 and F32) and
 * paged decode attention (32 heads, 8 KV heads, head dim 128, BF16, 16-token blocks, 4k and 32k tokens in device
 * memory, 4k tokens read in place from mapped pinned host memory), the block digests' bound ({@link DigestBenchmark}), each next to a copy of the same bytes measured in
 * the same run (device to device; host to device for the host slab), and each checked against {@link ReferenceOps}
 * before it is timed. GB/s counts the bytes the kernel must read (weights, or K and V); the copy's GB/s counts the
 * bytes copied (each read once and written once).
 */
public final class DecoderBenchmark {
    static final int[][] GEMV = {{14336, 4096}, {4096, 14336}, {8192, 4096}};
    static final DType[] GEMV_TYPES = {DType.BF16, DType.BF16, DType.F32};
    static final int[] ATTENTION_TOKENS = {4096, 32768};
    /** Tokens of the host-tier row: K and V read by the kernel from mapped pinned memory, over PCIe. */
    static final int HOST_ATTENTION_TOKENS = 4096;
    /** The paged attention row's name; {@link KernelBenchmark#target} keys its target on it. */
    public static final String ATTENTION_ROW = "paged attention bf16 (K+V read)";
    /** The host-tier row's name. */
    public static final String HOST_ATTENTION_ROW = "paged attention bf16, mapped host slab";
    static final int CHECKED_ROWS = 64;

    private final CudaContext context;
    private final int iterations;

    /** A benchmark on {@code context} timing {@code iterations} calls per row. */
    public DecoderBenchmark(CudaContext context, int iterations) {
        this.context = context;
        this.iterations = iterations;
    }

    /** Runs every row. */
    public List<KernelBenchmark.Row> run() {
        List<KernelBenchmark.Row> rows = new ArrayList<>();
        try (CudaStream stream = new CudaStream(context); CudaLinear linear = new CudaLinear(context);
             CudaPagedAttention attention = new CudaPagedAttention(context)) {
            for (int i = 0; i < GEMV.length; i++) {
                rows.add(gemv(linear, stream, GEMV[i][0], GEMV[i][1], GEMV_TYPES[i]));
            }
            for (int tokens : ATTENTION_TOKENS) {
                rows.add(attention(attention, stream, tokens, false));
            }
            rows.add(attention(attention, stream, HOST_ATTENTION_TOKENS, true));
            rows.add(new DigestBenchmark(context, iterations).run(stream));
        }
        return rows;
    }

    private KernelBenchmark.Row gemv(CudaLinear linear, CudaStream stream, int out, int in, DType t) {
        long wBytes = CudaLinear.gemvWeightBytes(out, in, t);
        SplittableRandom r = new SplittableRandom(out * 31L + in);
        float[] x = new float[in];
        for (int i = 0; i < in; i++) {
            x[i] = (float) (r.nextDouble() * 2 - 1);
        }
        // Only the first and last CHECKED_ROWS rows are kept in Java for the oracle.
        float[] head = new float[CHECKED_ROWS * in];
        float[] tail = new float[CHECKED_ROWS * in];
        try (PinnedBuffer host = new PinnedBuffer(context, wBytes + (long) in * 4 + (long) out * 4);
             DeviceBuffer w = new DeviceBuffer(context, wBytes);
             DeviceBuffer copy = new DeviceBuffer(context, wBytes);
             DeviceBuffer dx = new DeviceBuffer(context, (long) in * 4);
             DeviceBuffer dy = new DeviceBuffer(context, (long) out * 4)) {
            for (long row = 0; row < out; row++) {
                ByteBuffer b = host.buffer(row * in * t.bytes(), in * t.bytes());
                for (int i = 0; i < in; i++) {
                    float v = (float) (r.nextDouble() * 2 - 1);
                    if (t == DType.F32) {
                        b.putFloat(v);
                    } else {
                        short bits = t == DType.BF16 ? HalfFloats.toBf16(v) : HalfFloats.toF16(v);
                        b.putShort(bits);
                        v = t == DType.BF16 ? HalfFloats.fromBf16(bits) : HalfFloats.fromF16(bits);
                    }
                    if (row < CHECKED_ROWS) {
                        head[(int) row * in + i] = v;
                    } else if (row >= out - CHECKED_ROWS) {
                        tail[(int) (row - (out - CHECKED_ROWS)) * in + i] = v;
                    }
                }
            }
            host.buffer(wBytes, in * 4).asFloatBuffer().put(x);
            CudaCopies.hostToDeviceAsync(w, 0, host, 0, wBytes, stream);
            CudaCopies.hostToDeviceAsync(dx, 0, host, wBytes, (long) in * 4, stream);
            Runnable launch = () -> linear.gemvAsync(dy.address(), w.address(), t, dx.address(), 0, out, in, stream);
            launch.run();
            CudaCopies.deviceToHostAsync(host, wBytes + (long) in * 4, dy, 0, (long) out * 4, stream);
            stream.synchronize();
            float[] y = new float[out];
            host.buffer(wBytes + (long) in * 4, out * 4).asFloatBuffer().get(y);
            boolean correct = close(ReferenceOps.gemv(head, x, null, CHECKED_ROWS, in), y, 0, in)
                    && close(ReferenceOps.gemv(tail, x, null, CHECKED_ROWS, in), y, out - CHECKED_ROWS, in);
            double micros = time(stream, launch);
            double copyMicros = time(stream, () -> CudaCopies.deviceToDevice(copy, 0, w, 0, wBytes, stream));
            return new KernelBenchmark.Row("gemv " + t.name().toLowerCase(java.util.Locale.ROOT) + " (weight streaming)",
                    out + " x " + in, micros, wBytes / micros / 1e3, wBytes / copyMicros / 1e3, correct);
        }
    }

    private static boolean close(float[] expected, float[] actual, int from, int in) {
        double tol = 2e-5 * Math.sqrt(in);
        for (int i = 0; i < expected.length; i++) {
            if (!(Math.abs(expected[i] - actual[from + i]) <= tol * Math.max(1, Math.abs(expected[i])))) {
                return false;
            }
        }
        return true;
    }

    /**
     * Paged attention over {@code tokens} tokens, K and V in device memory, or ({@code hostSlab}) read in place from
     * mapped pinned host memory through its UVA address (the host tier's zero-copy read), next to a device-to-device
     * copy or a pinned host-to-device copy of the same bytes.
     */
    private KernelBenchmark.Row attention(CudaPagedAttention attention, CudaStream stream, int tokens, boolean hostSlab) {
        PagedKvShape shape = PagedKvShape.dense(DType.BF16, 32, 8, 128, 16);
        int blocks = tokens / shape.blockSize();
        int capacity = blocks + 7;
        long slabBytes = capacity * shape.slotBytes();
        long kvBytes = blocks * shape.slotBytes();
        SplittableRandom r = new SplittableRandom(tokens);
        float[] slab = new float[(int) (slabBytes / 2)];
        int[] slots = new int[blocks];
        for (int b = 0; b < blocks; b++) {
            slots[b] = (int) ((b * 7L + 3) % capacity); // scattered, distinct (7 and capacity are coprime unless 7 divides it)
        }
        if (capacity % 7 == 0) {
            for (int b = 0; b < blocks; b++) {
                slots[b] = capacity - 1 - b;
            }
        }
        float[] q = new float[shape.heads() * shape.headDim()];
        for (int i = 0; i < q.length; i++) {
            q[i] = (float) (r.nextDouble() * 2 - 1);
        }
        long qBytes = q.length * 4L;
        try (PinnedBuffer host = new PinnedBuffer(context, slabBytes + qBytes + blocks * 4L + qBytes + 4L * shape.heads());
             DeviceBuffer dSlab = new DeviceBuffer(context, slabBytes);
             DeviceBuffer copy = new DeviceBuffer(context, kvBytes);
             DeviceBuffer dq = new DeviceBuffer(context, qBytes);
             DeviceBuffer dSlots = new DeviceBuffer(context, blocks * 4L);
             DeviceBuffer dOut = new DeviceBuffer(context, qBytes);
             DeviceBuffer dLse = new DeviceBuffer(context, 4L * shape.heads())) {
            ByteBuffer b = host.buffer(0, (int) slabBytes);
            for (int i = 0; i < slab.length; i++) {
                short bits = HalfFloats.toBf16((float) (r.nextDouble() * 2 - 1));
                b.putShort(bits);
                slab[i] = HalfFloats.fromBf16(bits);
            }
            host.buffer(slabBytes, (int) qBytes).asFloatBuffer().put(q);
            host.buffer(slabBytes + qBytes, blocks * 4).asIntBuffer().put(slots);
            CudaCopies.hostToDeviceAsync(dSlab, 0, host, 0, slabBytes, stream);
            CudaCopies.hostToDeviceAsync(dq, 0, host, slabBytes, qBytes, stream);
            CudaCopies.hostToDeviceAsync(dSlots, 0, host, slabBytes + qBytes, blocks * 4L, stream);
            float scale = (float) (1 / Math.sqrt(shape.headDim()));
            long slabAddress = hostSlab ? host.address() : dSlab.address(); // the host copy of the slab is at offset 0
            Runnable launch = () -> attention.attendAsync(shape, dq.address(), slabAddress, slabBytes, dSlots.address(), 0, 0, blocks, scale,
                    dOut.address(), dLse.address(), stream);
            launch.run();
            long at = slabBytes + qBytes + blocks * 4L;
            CudaCopies.deviceToHostAsync(host, at, dOut, 0, qBytes, stream);
            CudaCopies.deviceToHostAsync(host, at + qBytes, dLse, 0, 4L * shape.heads(), stream);
            stream.synchronize();
            float[] out = new float[q.length];
            float[] lse = new float[shape.heads()];
            host.buffer(at, (int) qBytes).asFloatBuffer().get(out);
            host.buffer(at + qBytes, 4 * shape.heads()).asFloatBuffer().get(lse);
            ReferenceOps.Attention want = ReferenceOps.pagedAttention(shape, q, slab, slots, null, null, blocks, scale);
            boolean correct = close(want.out(), out, 0, 1) && close(want.lse(), lse, 0, 1);
            double micros = time(stream, launch);
            double copyMicros = hostSlab ? time(stream, () -> CudaCopies.hostToDeviceAsync(copy, 0, host, 0, kvBytes, stream))
                    : time(stream, () -> CudaCopies.deviceToDevice(copy, 0, dSlab, 0, kvBytes, stream));
            return new KernelBenchmark.Row(hostSlab ? HOST_ATTENTION_ROW : ATTENTION_ROW, "32/8 heads x 128 x " + tokens, micros,
                    kvBytes / micros / 1e3, kvBytes / copyMicros / 1e3, correct);
        }
    }

    /** Microseconds per call of {@code call}; see {@link EventTimer}. */
    private double time(CudaStream stream, Runnable call) {
        return EventTimer.microsPerCall(context, stream, iterations, call);
    }
}

package io.tierkv.cuda.ops;

import io.tierkv.core.DType;
import io.tierkv.cuda.driver.CudaContext;
import io.tierkv.cuda.driver.CudaCopies;
import io.tierkv.cuda.driver.CudaStream;
import io.tierkv.cuda.driver.DeviceBuffer;
import io.tierkv.cuda.driver.PinnedBuffer;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/** Test helper: device copies of Java arrays and back, all freed on close; and the random inputs the tests share. */
final class DeviceArrays implements AutoCloseable {
    private final CudaContext ctx;
    private final CudaStream stream;
    private final List<AutoCloseable> owned = new ArrayList<>();

    DeviceArrays(CudaContext ctx, CudaStream stream) {
        this.ctx = ctx;
        this.stream = stream;
    }

    DeviceBuffer alloc(long bytes) {
        DeviceBuffer b = new DeviceBuffer(ctx, Math.max(bytes, 16));
        owned.add(b);
        return b;
    }

    DeviceBuffer upload(ByteBuffer bytes) {
        int n = bytes.remaining();
        DeviceBuffer d = alloc(n);
        try (PinnedBuffer h = new PinnedBuffer(ctx, Math.max(n, 16))) {
            h.buffer().put(0, bytes, bytes.position(), n);
            CudaCopies.hostToDeviceAsync(d, 0, h, 0, n, stream);
            stream.synchronize();
        }
        return d;
    }

    DeviceBuffer floats(float[] a) {
        ByteBuffer b = ByteBuffer.allocate(a.length * 4).order(java.nio.ByteOrder.nativeOrder());
        b.asFloatBuffer().put(a);
        return upload(b);
    }

    DeviceBuffer ints(int[] a) {
        ByteBuffer b = ByteBuffer.allocate(a.length * 4).order(java.nio.ByteOrder.nativeOrder());
        b.asIntBuffer().put(a);
        return upload(b);
    }

    DeviceBuffer bytes(byte[] a) {
        return upload(ByteBuffer.wrap(a));
    }

    /** {@code values} encoded as {@code dtype} on the device. */
    DeviceBuffer typed(float[] values, DType dtype) {
        if (dtype == DType.F32) {
            return floats(values);
        }
        ByteBuffer b = ByteBuffer.allocate(values.length * 2).order(java.nio.ByteOrder.nativeOrder());
        for (float v : values) {
            b.putShort(dtype == DType.BF16 ? HalfFloats.toBf16(v) : HalfFloats.toF16(v));
        }
        b.flip();
        return upload(b);
    }

    float[] download(DeviceBuffer d, int count) {
        stream.synchronize();
        float[] out = new float[count];
        try (PinnedBuffer h = new PinnedBuffer(ctx, Math.max(count * 4L, 16))) {
            CudaCopies.deviceToHostAsync(h, 0, d, 0, count * 4L, stream);
            stream.synchronize();
            h.buffer(0, count * 4).asFloatBuffer().get(out);
        }
        return out;
    }

    /** The first {@code count} bytes of {@code d}. */
    byte[] bytes(DeviceBuffer d, int count) {
        stream.synchronize();
        byte[] out = new byte[count];
        try (PinnedBuffer h = new PinnedBuffer(ctx, Math.max(count, 16))) {
            CudaCopies.deviceToHostAsync(h, 0, d, 0, count, stream);
            stream.synchronize();
            h.buffer(0, count).get(out);
        }
        return out;
    }

    /** Gaussian values, already rounded to what {@code dtype} holds. */
    static float[] random(SplittableRandom r, int n, double sigma, DType dtype) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = HalfFloats.round((float) (sigma * gaussian(r)), dtype);
        }
        return a;
    }

    /**
     * A head mask {@code [nBlocks][kvHeads]} (at least 1 byte): about 1 in 4 (list entry, KV head) pairs left out (0), and
     * with more than one KV head, one KV head left with no entry at all.
     */
    static byte[] randomHeadMask(SplittableRandom r, int nBlocks, int kvHeads) {
        byte[] headMask = new byte[Math.max(1, nBlocks * kvHeads)];
        int empty = kvHeads > 1 ? r.nextInt(kvHeads) : -1;
        for (int b = 0; b < nBlocks; b++) {
            for (int g = 0; g < kvHeads; g++) {
                headMask[b * kvHeads + g] = (byte) (g != empty && r.nextInt(4) != 0 ? 1 : 0);
            }
        }
        return headMask;
    }

    static double gaussian(SplittableRandom r) {
        double u = Math.max(r.nextDouble(), 1e-300);
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r.nextDouble());
    }

    @Override
    public void close() {
        stream.synchronize();
        for (int i = owned.size() - 1; i >= 0; i--) {
            try {
                owned.get(i).close();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
        owned.clear();
    }
}

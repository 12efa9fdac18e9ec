package io.tierkv.cuda.check;

import io.tierkv.cuda.driver.CudaContext;
import io.tierkv.cuda.driver.CudaCopies;
import io.tierkv.cuda.driver.CudaStream;
import io.tierkv.cuda.driver.DeviceBuffer;
import io.tierkv.cuda.driver.PinnedBuffer;
import io.tierkv.cuda.ops.CudaBlockDigests;
import io.tierkv.cuda.ops.DigestMirror;
import io.tierkv.cuda.ops.DigestShape;
import java.nio.ShortBuffer;
import java.util.SplittableRandom;

/**
 * The GPU check's digest row: {@code digest_bound} for one query over {@value #BLOCKS} block digests (32 query heads, 8 KV
 * heads, head dim 128, 16-token blocks, one part: 131k tokens' worth), the digests listed in a shuffled order, checked
 * against {@link DigestMirror} before it is timed, next to a device-to-device copy of the digest bytes. GB/s counts the
 * digest bytes read once (the query, the list and the bounds written are small beside them).
 */
final class DigestBenchmark {
    static final int BLOCKS = 8192;
    static final int HEADS = 32;
    /** The row's name. */
    static final String ROW = "digest bound (digests read)";

    private final CudaContext context;
    private final int iterations;

    DigestBenchmark(CudaContext context, int iterations) {
        this.context = context;
        this.iterations = iterations;
    }

    KernelBenchmark.Row run(CudaStream stream) {
        DigestShape shape = new DigestShape(8, 128, 16, 1);
        SplittableRandom r = new SplittableRandom(BLOCKS);
        short[] digests = new short[BLOCKS * shape.stride()];
        int half = shape.stride() / 2;
        for (int b = 0; b < BLOCKS; b++) {
            for (int i = 0; i < half; i++) {
                float mid = (float) (r.nextDouble() * 2 - 1);
                float spread = (float) r.nextDouble();
                digests[b * shape.stride() + i] = DigestMirror.bf16Down(mid - spread);
                digests[b * shape.stride() + half + i] = DigestMirror.bf16Up(mid + spread);
            }
        }
        int[] list = new int[BLOCKS];
        for (int i = 0; i < BLOCKS; i++) {
            list[i] = i;
        }
        for (int i = BLOCKS - 1; i > 0; i--) {
            int j = r.nextInt(i + 1);
            int t = list[i];
            list[i] = list[j];
            list[j] = t;
        }
        float[] q = new float[HEADS * shape.headDim()];
        for (int i = 0; i < q.length; i++) {
            q[i] = (float) (r.nextDouble() * 2 - 1);
        }
        float scale = (float) (1 / Math.sqrt(shape.headDim()));
        long digestBytes = BLOCKS * shape.bytesPerBlock();
        long qBytes = q.length * 4L;
        long listBytes = BLOCKS * 4L;
        long outBytes = (long) BLOCKS * HEADS * 4;
        try (CudaBlockDigests dev = new CudaBlockDigests(context, shape, BLOCKS);
             PinnedBuffer host = new PinnedBuffer(context, digestBytes + qBytes + listBytes + outBytes);
             DeviceBuffer copy = new DeviceBuffer(context, digestBytes);
             DeviceBuffer dq = new DeviceBuffer(context, qBytes);
             DeviceBuffer dList = new DeviceBuffer(context, listBytes);
             DeviceBuffer dOut = new DeviceBuffer(context, outBytes)) {
            ShortBuffer sb = host.buffer(0, (int) digestBytes).asShortBuffer();
            sb.put(digests);
            host.buffer(digestBytes, (int) qBytes).asFloatBuffer().put(q);
            host.buffer(digestBytes + qBytes, (int) listBytes).asIntBuffer().put(list);
            CudaCopies.hostToDeviceAsync(dev.buffer(), 0, host, 0, digestBytes, stream);
            CudaCopies.hostToDeviceAsync(dq, 0, host, digestBytes, qBytes, stream);
            CudaCopies.hostToDeviceAsync(dList, 0, host, digestBytes + qBytes, listBytes, stream);
            Runnable launch = () -> dev.boundAsync(dq.address(), HEADS, scale, dList.address(), BLOCKS, dOut.address(), stream);
            launch.run();
            long at = digestBytes + qBytes + listBytes;
            CudaCopies.deviceToHostAsync(host, at, dOut, 0, outBytes, stream);
            stream.synchronize();
            float[] got = new float[BLOCKS * HEADS];
            host.buffer(at, (int) outBytes).asFloatBuffer().get(got);
            float[] want = new float[BLOCKS * HEADS];
            DigestMirror.bound(shape, q, HEADS, scale, digests, list, BLOCKS, want);
            boolean correct = close(want, got);
            double micros = EventTimer.microsPerCall(context, stream, iterations, launch);
            double copyMicros = EventTimer.microsPerCall(context, stream, iterations,
                    () -> CudaCopies.deviceToDevice(copy, 0, dev.buffer(), 0, digestBytes, stream));
            return new KernelBenchmark.Row(ROW, HEADS + "/8 heads x 128 x " + BLOCKS + " blocks", micros, digestBytes / micros / 1e3,
                    digestBytes / copyMicros / 1e3, correct);
        }
    }

    /** Within 1e-5 relative (the kernel is meant to match the mirror bit for bit). */
    static boolean close(float[] want, float[] got) {
        for (int i = 0; i < want.length; i++) {
            if (!(Math.abs(want[i] - got[i]) <= 1e-5 * Math.max(1, Math.abs(want[i])))) {
                return false;
            }
        }
        return true;
    }
}

package io.tierkv.cuda.popularity;

import io.tierkv.core.popularity.PopularityCounter;
import io.tierkv.cuda.driver.CudaContext;
import io.tierkv.cuda.driver.CudaCopies;
import io.tierkv.cuda.driver.CudaStream;
import io.tierkv.cuda.driver.DeviceBuffer;
import io.tierkv.cuda.driver.KernelModule;
import io.tierkv.cuda.driver.PinnedBuffer;
import java.nio.IntBuffer;
import java.util.Arrays;

/**
 * The {@link PopularityCounter} contract on the GPU, for probabilities that live on the host: copies
 * the rows to the device through pinned staging, runs {@link PopularityKernel}, copies the positions
 * back and sorts them. Selects exactly what the Java counters select (the conformance tests hold it
 * to {@code ReferencePopularityCounter}). Where probabilities are already on the device, use
 * {@link PopularityKernel} directly and skip both copies. Not thread-safe.
 */
public final class CudaPopularityCounter implements PopularityCounter, AutoCloseable {
    private final KernelModule module;
    private final CudaStream stream;
    private final PopularityKernel kernel;
    private final CudaContext context;
    private PinnedBuffer hostProbs;   // (heads, keys) f32 staging
    private DeviceBuffer deviceProbs; // (heads, keys) f32
    private PinnedBuffer hostOut;     // (1 + k) i32: count, then positions
    private DeviceBuffer deviceOut;   // (1 + k) i32: count, then positions

    /** Loads the kernel into {@code context} (which the caller keeps open and closes after this). */
    public CudaPopularityCounter(CudaContext context) {
        this.context = context;
        this.module = KernelModule.load(context, PopularityKernel.MODULE);
        CudaStream s = null;
        try {
            s = new CudaStream(context);
            this.kernel = new PopularityKernel(context, module, s);
        } catch (RuntimeException e) {
            if (s != null) {
                s.close();
            }
            module.close();
            throw e;
        }
        this.stream = s;
    }

    @Override
    public String name() {
        return "cuda";
    }

    @Override
    public int selectTopK(float[] probs, int offset, int heads, int stride, int keys, int k, int[] out) {
        PopularityCounter.checkArguments(probs, offset, heads, stride, keys, k, out);
        if (keys == 0) {
            return 0;
        }
        int n = Math.min(k, keys);
        long probBytes = (long) heads * keys * Float.BYTES;
        hostProbs = grow(hostProbs, probBytes);
        deviceProbs = grow(deviceProbs, probBytes);
        hostOut = grow(hostOut, (1L + n) * Integer.BYTES);
        deviceOut = grow(deviceOut, (1L + n) * Integer.BYTES);
        java.nio.FloatBuffer staging = hostProbs.buffer(0, (int) probBytes).asFloatBuffer();
        for (int h = 0; h < heads; h++) {
            staging.put(h * keys, probs, offset + h * stride, keys);
        }
        CudaCopies.hostToDeviceAsync(deviceProbs, 0, hostProbs, 0, probBytes, stream);
        long outAddress = deviceOut.address();
        kernel.launch(deviceProbs.address(), 0, 1, heads, keys, keys, 0, n, outAddress + Integer.BYTES, outAddress, 0, 0);
        CudaCopies.deviceToHostAsync(hostOut, 0, deviceOut, 0, (1L + n) * Integer.BYTES, stream);
        stream.synchronize();
        IntBuffer result = hostOut.buffer(0, (1 + n) * Integer.BYTES).asIntBuffer();
        if (result.get(0) != n) {
            throw new IllegalStateException("popularity kernel selected " + result.get(0) + " positions, expected " + n);
        }
        result.get(1, out, 0, n);
        Arrays.sort(out, 0, n);
        return n;
    }

    private PinnedBuffer grow(PinnedBuffer b, long bytes) {
        if (b != null && b.bytes() >= bytes) {
            return b;
        }
        if (b != null) {
            stream.synchronize();
            b.close();
        }
        return new PinnedBuffer(context, Math.max(bytes, b == null ? 0 : b.bytes() * 2));
    }

    private DeviceBuffer grow(DeviceBuffer b, long bytes) {
        if (b != null && b.bytes() >= bytes) {
            return b;
        }
        if (b != null) {
            stream.synchronize();
            b.close();
        }
        return new DeviceBuffer(context, Math.max(bytes, b == null ? 0 : b.bytes() * 2));
    }

    /** Frees the staging, the scratch, the stream and the module; idempotent. */
    @Override
    public void close() {
        try (module; stream; kernel) {
            for (AutoCloseable c : new AutoCloseable[] {hostProbs, deviceProbs, hostOut, deviceOut}) {
                if (c instanceof PinnedBuffer) {
                    ((PinnedBuffer) c).close();
                } else if (c instanceof DeviceBuffer) {
                    ((DeviceBuffer) c).close();
                }
            }
        }
    }
}

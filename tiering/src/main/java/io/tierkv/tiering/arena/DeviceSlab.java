package io.tierkv.tiering.arena;

import io.tierkv.core.memory.MemoryKind;
import io.tierkv.cuda.driver.CudaContext;
import io.tierkv.cuda.driver.CudaCopies;
import io.tierkv.cuda.driver.CudaStream;
import io.tierkv.cuda.driver.DeviceBuffer;
import io.tierkv.cuda.driver.PinnedBuffer;

/**
 * The CUDA device tier: one {@code cuMemAlloc} slab (a {@link DeviceBuffer}, which reports itself to the
 * ledger as DEVICE), zeroed at creation. {@link #read}/{@link #write} go through a small pinned staging
 * buffer and a private stream and are synchronous: for tests, benchmarks and the remote tier's block copies
 * (the model's {@code RemotePrefill}), which run while no kernel or tier copy touches the slots they copy.
 */
public final class DeviceSlab extends AbstractSlab {
    /** Size of the pinned staging buffer of the slow accessors. */
    private static final int STAGING_BYTES = 1 << 20;

    private final CudaContext context;
    /** (bytes) device memory; slots of the owner's layout. */
    private final DeviceBuffer buffer;
    private final CudaStream stream;
    /** (STAGING_BYTES) pinned bytes for read/write; allocated on first use. */
    private PinnedBuffer staging;

    public DeviceSlab(CudaContext context, long bytes) {
        super(MemoryKind.DEVICE, bytes);
        this.context = context;
        this.buffer = new DeviceBuffer(context, bytes);
        CudaStream s = null;
        try {
            s = new CudaStream(context);
            buffer.fill(0, bytes, (byte) 0, s);
            s.synchronize();
        } catch (RuntimeException e) {
            if (s != null) {
                s.close();
            }
            buffer.close();
            throw e;
        }
        this.stream = s;
    }

    /** The device buffer, for the CUDA copy engine. */
    public DeviceBuffer buffer() {
        return buffer;
    }

    @Override
    public long address() {
        return buffer.address();
    }

    @Override
    void copyIn(long offset, byte[] src, int srcOffset, int length) {
        PinnedBuffer stage = staging();
        for (int done = 0; done < length; ) {
            int n = Math.min(STAGING_BYTES, length - done);
            stage.buffer(0, n).put(src, srcOffset + done, n);
            CudaCopies.hostToDeviceAsync(buffer, offset + done, stage, 0, n, stream);
            stream.synchronize();
            done += n;
        }
    }

    @Override
    void copyOut(long offset, byte[] dst, int dstOffset, int length) {
        PinnedBuffer stage = staging();
        for (int done = 0; done < length; ) {
            int n = Math.min(STAGING_BYTES, length - done);
            CudaCopies.deviceToHostAsync(stage, 0, buffer, offset + done, n, stream);
            stream.synchronize();
            stage.buffer(0, n).get(dst, dstOffset + done, n);
            done += n;
        }
    }

    private PinnedBuffer staging() {
        if (staging == null) {
            staging = new PinnedBuffer(context, STAGING_BYTES);
        }
        return staging;
    }

    /** Frees the staging buffer, the stream and the device memory. Queued copies must be done. */
    @Override
    void free() {
        try {
            if (staging != null) {
                staging.close();
            }
            stream.close();
        } finally {
            buffer.close();
        }
    }
}

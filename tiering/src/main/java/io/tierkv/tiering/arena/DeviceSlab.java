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
 * (the model's {@code RemotePrefill}, through {@link #writeRanges} and {@link #readRanges}: one wait per block, not one
 * per layer and half), which run while no kernel or tier copy touches the slots they copy.
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

    /**
     * The ranges staged in order through the pinned buffer, a device-adjacent run of them as one copy, with one wait per
     * buffer's worth (a remote block of 32 layers: one wait, not 64).
     */
    @Override
    void copyInRanges(int n, long[] offsets, byte[] src, int[] srcOffsets, int[] lengths) {
        PinnedBuffer stage = staging();
        Runs runs = new Runs();
        for (int i = 0; i < n; i++) {
            for (int done = 0; done < lengths[i]; ) {
                if (runs.staged == STAGING_BYTES) {
                    runs.flush(true);
                    stream.synchronize(); // the staging buffer is free again
                    runs.staged = 0;
                }
                int len = Math.min(STAGING_BYTES - runs.staged, lengths[i] - done);
                stage.buffer(runs.staged, len).put(src, srcOffsets[i] + done, len);
                runs.add(offsets[i] + done, len, true);
                done += len;
            }
        }
        runs.flush(true);
        stream.synchronize();
    }

    /** The reverse of {@link #copyInRanges}: device-adjacent runs copied out as one, one wait per buffer's worth. */
    @Override
    void copyOutRanges(int n, long[] offsets, byte[] dst, int[] dstOffsets, int[] lengths) {
        PinnedBuffer stage = staging();
        Runs runs = new Runs();
        int from = 0;       // the first range (and bytes of it) not yet copied out of the staging buffer
        int fromDone = 0;
        for (int i = 0; i < n; i++) {
            for (int done = 0; done < lengths[i]; ) {
                if (runs.staged == STAGING_BYTES) {
                    runs.flush(false);
                    stream.synchronize();
                    unstage(stage, from, fromDone, i, done, offsets, dst, dstOffsets, lengths);
                    from = i;
                    fromDone = done;
                    runs.staged = 0;
                }
                int len = Math.min(STAGING_BYTES - runs.staged, lengths[i] - done);
                runs.add(offsets[i] + done, len, false);
                done += len;
            }
        }
        runs.flush(false);
        stream.synchronize();
        unstage(stage, from, fromDone, n, 0, offsets, dst, dstOffsets, lengths);
    }

    /** Copies the staged bytes of ranges {@code from} (past its first {@code fromDone}) up to range {@code to} (its first {@code toDone}) out. */
    private static void unstage(PinnedBuffer stage, int from, int fromDone, int to, int toDone, long[] offsets, byte[] dst, int[] dstOffsets,
                                int[] lengths) {
        int at = 0;
        for (int i = from; i < to || i == to && toDone > 0; i++) {
            int start = i == from ? fromDone : 0;
            int end = i == to ? toDone : lengths[i];
            stage.buffer(at, end - start).get(dst, dstOffsets[i] + start, end - start);
            at += end - start;
        }
    }

    /** Staged bytes gathered into runs that are adjacent in the slab too: one driver copy per run. */
    private final class Runs {
        int staged;          // bytes in the staging buffer
        private long slabAt;  // the open run: where it goes (or comes from) in the slab, where it starts in the buffer, its bytes
        private int stageAt;
        private int bytes;

        void add(long offset, int len, boolean toDevice) {
            if (bytes > 0 && slabAt + bytes == offset) {
                bytes += len;
            } else {
                flush(toDevice);
                slabAt = offset;
                stageAt = staged;
                bytes = len;
            }
            staged += len;
        }

        void flush(boolean toDevice) {
            if (bytes > 0) {
                if (toDevice) {
                    CudaCopies.hostToDeviceAsync(buffer, slabAt, staging, stageAt, bytes, stream);
                } else {
                    CudaCopies.deviceToHostAsync(staging, stageAt, buffer, slabAt, bytes, stream);
                }
                bytes = 0;
            }
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

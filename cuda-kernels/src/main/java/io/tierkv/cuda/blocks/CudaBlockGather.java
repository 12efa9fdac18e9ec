package io.tierkv.cuda.blocks;

import io.tierkv.cuda.driver.CudaContext;
import io.tierkv.cuda.driver.CudaCopies;
import io.tierkv.cuda.driver.CudaStream;
import io.tierkv.cuda.driver.DeviceBuffer;
import io.tierkv.cuda.driver.KernelModule;
import io.tierkv.cuda.driver.LaunchArgs;
import io.tierkv.cuda.driver.Owned;
import io.tierkv.cuda.driver.PinnedBuffer;
import io.tierkv.cuda.driver.ReuseFence;

/**
 * Gather/scatter of device blocks with {@code gather_blocks} / {@code scatter_blocks}
 * ({@code src/main/cuda/block_copy.cu}): one launch moves every listed block, 16 bytes per thread per
 * step. The {@code *Async} methods enqueue on the given stream and return; the {@link BlockGather}
 * methods enqueue on this object's own stream and wait. Block indices travel through a small pinned
 * buffer, reused once the previous upload has left it, into a device buffer that a launch on another
 * stream waits for until the previous launch has read it ({@link ReuseFence}s). Block sizes must be a
 * multiple of 16 bytes (the kernel's vector loads). Not thread-safe.
 */
public final class CudaBlockGather implements BlockGather<DeviceBuffer>, AutoCloseable {
    /** The module ({@code block_copy.cu}). */
    public static final String MODULE = "block_copy";
    static final int THREADS = 256;
    static final long CHUNK = 16 * 1024;

    private final CudaContext context;
    private final KernelModule module;
    private final CudaStream ownStream;
    private final ReuseFence<CudaStream> hostIndicesFree;   // recorded after the upload that reads the pinned indices
    private final ReuseFence<CudaStream> deviceIndicesFree; // recorded after the launch that reads the device indices
    private PinnedBuffer hostIndices;   // (capacity) i32
    private java.nio.IntBuffer hostIndexView; // over hostIndices, made once per allocation
    private DeviceBuffer deviceIndices; // (capacity) i32

    private final LaunchArgs args; // packed per launch: one native pointer per cuLaunchKernel

    /** Loads the kernels into {@code context}, which the caller keeps open and closes after this. */
    public CudaBlockGather(CudaContext context) {
        this.context = context;
        Owned taken = new Owned();
        try {
            this.module = taken.add(KernelModule.load(context, MODULE));
            this.ownStream = taken.add(new CudaStream(context));
            this.hostIndicesFree = taken.add(ReuseFence.create(context));
            this.deviceIndicesFree = taken.add(ReuseFence.create(context));
            this.args = taken.add(new LaunchArgs(context, 64));
        } catch (RuntimeException | Error e) {
            taken.closeAfter(e);
            throw e;
        }
    }

    @Override
    public String name() {
        return "cuda";
    }

    @Override
    public void gather(DeviceBuffer pool, int[] blocks, int count, long blockBytes, DeviceBuffer staging, long stagingOffset) {
        gatherAsync(pool, blocks, count, blockBytes, staging, stagingOffset, ownStream);
        ownStream.synchronize();
    }

    @Override
    public void scatter(DeviceBuffer staging, long stagingOffset, int[] blocks, int count, long blockBytes, DeviceBuffer pool) {
        scatterAsync(staging, stagingOffset, blocks, count, blockBytes, pool, ownStream);
        ownStream.synchronize();
    }

    /** Enqueues a gather on {@code stream}; {@code blocks} may be reused as soon as this returns. */
    public void gatherAsync(DeviceBuffer pool, int[] blocks, int count, long blockBytes, DeviceBuffer staging, long stagingOffset,
                            CudaStream stream) {
        check(pool.bytes(), blocks, count, blockBytes, staging.bytes(), stagingOffset);
        launch("gather_blocks", pool.address(), staging.address() + stagingOffset, blocks, count, blockBytes, stream);
    }

    /** Enqueues a scatter on {@code stream}; {@code blocks} may be reused as soon as this returns. */
    public void scatterAsync(DeviceBuffer staging, long stagingOffset, int[] blocks, int count, long blockBytes, DeviceBuffer pool,
                             CudaStream stream) {
        check(pool.bytes(), blocks, count, blockBytes, staging.bytes(), stagingOffset);
        launch("scatter_blocks", staging.address() + stagingOffset, pool.address(), blocks, count, blockBytes, stream);
    }

    /** {@link BlockGather#check}, plus the device's alignment: block size and staging offset multiples of 16 bytes. */
    static void check(long poolBytes, int[] blocks, int count, long blockBytes, long stagingBytes, long stagingOffset) {
        BlockGather.check(poolBytes, blocks, count, blockBytes, stagingBytes, stagingOffset);
        if (blockBytes % 16 != 0) {
            throw new IllegalArgumentException("blockBytes must be a multiple of 16 on the GPU (16-byte vector copies), was " + blockBytes);
        }
        if (stagingOffset % 16 != 0) {
            throw new IllegalArgumentException("stagingOffset must be a multiple of 16 on the GPU, was " + stagingOffset);
        }
    }

    private void launch(String function, long src, long dst, int[] blocks, int count, long blockBytes, CudaStream stream) {
        if (stream.isCapturing()) { // a graph would replay this call's staged indices, whatever the next call stages
            throw new IllegalStateException(function + " stages its block indices through host memory per call and cannot be captured"
                    + " into a CUDA graph");
        }
        if (count == 0) {
            return;
        }
        long chunks = (blockBytes + CHUNK - 1) / CHUNK;
        if (chunks > 65535) {
            throw new IllegalArgumentException("blockBytes must be at most " + 65535 * CHUNK + ", was " + blockBytes);
        }
        uploadIndices(blocks, count, stream);
        // gather_blocks / scatter_blocks(src, dst, blocks, count, blockBytes)
        args.clear().i64(src).i64(dst).i64(deviceIndices.address()).i32(count).i64(blockBytes);
        module.launch(function, count, (int) chunks, THREADS, 0, stream, args);
        deviceIndicesFree.afterUse(stream);
    }

    /**
     * Copies the indices to the device on {@code stream}: the host waits until the previous upload has left
     * the pinned buffer, and {@code stream} waits until the previous launch (maybe on another stream) has
     * read the device indices.
     */
    private void uploadIndices(int[] blocks, int count, CudaStream stream) {
        long bytes = (long) count * Integer.BYTES;
        hostIndicesFree.beforeHostWrite();
        deviceIndicesFree.beforeDeviceUse(stream);
        if (hostIndices == null || hostIndices.bytes() < bytes) {
            context.synchronize(); // the old device indices may still be read by a queued launch
            closeIndices();
            long capacity = Math.max(bytes, 4096);
            hostIndices = new PinnedBuffer(context, capacity);
            deviceIndices = new DeviceBuffer(context, capacity);
            hostIndexView = hostIndices.buffer(0, (int) capacity).asIntBuffer();
        }
        hostIndexView.put(0, blocks, 0, count);
        CudaCopies.hostToDeviceAsync(deviceIndices, 0, hostIndices, 0, bytes, stream);
        hostIndicesFree.afterUse(stream);
    }

    private void closeIndices() {
        if (hostIndices != null) {
            hostIndices.close();
            deviceIndices.close();
            hostIndices = null;
            deviceIndices = null;
        }
    }

    /** Waits for queued work, then frees the index buffers, the event, the stream and the module; idempotent. */
    @Override
    public void close() {
        if (ownStream.isClosed()) {
            return;
        }
        PinnedBuffer hi = hostIndices;
        DeviceBuffer di = deviceIndices;
        hostIndices = null;
        deviceIndices = null;
        // every resource closed, also when the wait or an earlier free fails (a sticky fault); the first failure thrown
        try (module; ownStream; hostIndicesFree; deviceIndicesFree; args; di; hi) {
            context.synchronize();
        }
    }
}

package io.tierkv.model.cuda;

import io.tierkv.cuda.driver.Cuda;
import io.tierkv.cuda.driver.CudaContext;
import io.tierkv.cuda.driver.CudaCopies;
import io.tierkv.cuda.driver.CudaGraph;
import io.tierkv.cuda.driver.CudaStream;
import io.tierkv.cuda.driver.DeviceBuffer;
import io.tierkv.cuda.driver.KernelModule;
import io.tierkv.cuda.driver.Owned;
import io.tierkv.cuda.driver.PinnedBuffer;
import io.tierkv.cuda.ops.CudaBlockDigests;
import io.tierkv.cuda.ops.CudaDecoderOps;
import io.tierkv.cuda.ops.DigestShape;
import io.tierkv.cuda.ops.CudaDecoderStep;
import io.tierkv.cuda.ops.CudaHeadSlices;
import io.tierkv.cuda.ops.CudaLinear;
import io.tierkv.cuda.ops.CudaPagedAttention;
import io.tierkv.cuda.ops.CudaPagedProbs;
import io.tierkv.cuda.ops.PagedKvShape;
import io.tierkv.cuda.ops.PagedPart;
import io.tierkv.core.DType;
import io.tierkv.cuda.popularity.PopularityKernel;
import java.nio.ByteBuffer;
import java.util.Map;
import java.util.TreeMap;
import jcuda.driver.JCudaDriver;

/**
 * The GPU as a {@link StepDevice}: GPU 0's primary context, one stream, cuda-kernels' ops. Every allocation is a
 * {@link DeviceBuffer} found again by address (so copies and memsets go through the bounds-checked buffer calls);
 * transfers go through one pinned staging buffer, rewritten only after the stream has passed the previous copy.
 */
final class CudaStepDevice implements StepDevice {
    /** Largest staging chunk. */
    static final long STAGING_BYTES = 32L << 20;
    /** Pinned bytes for the small uploads of a step (block tables, digest indexes), which then do not wait for the GPU. */
    static final long UPLOAD_RING_BYTES = 4L << 20;

    private final Owned owned = new Owned();
    private final CudaContext context;
    private final CudaStream stream;
    private final CudaLinear linear;
    private final CudaDecoderOps ops;
    private final CudaPagedAttention attention;
    private final CudaDecoderStep step;
    private final TreeMap<Long, DeviceBuffer> buffers = new TreeMap<>();
    private PinnedBuffer staging;
    private PinnedBuffer ring;             // the upload ring's memory, allocated at the first small upload
    private ByteBuffer ringBytes;          // and a view of it
    private final UploadRing ringPlan = new UploadRing(UPLOAD_RING_BYTES);
    private CudaPagedProbs pagedProbs;     // loaded at the first use (tiered decoding with a policy that observes attention)
    private CudaHeadSlices headSlices;     // loaded at the first use (digest host reads with select=head)
    private PopularityKernel popularity;  // likewise
    private CudaBlockDigests digests;     // tiered decoding with --host-read digest
    private final java.util.List<CudaGraph> graphs = new java.util.ArrayList<>(); // open captures, freed at close
    private long allocated;
    private boolean closed;

    CudaStepDevice() {
        try {
            context = owned.add(CudaContext.primary(0));
            stream = owned.add(new CudaStream(context));
            linear = owned.add(new CudaLinear(context));
            ops = owned.add(new CudaDecoderOps(context));
            attention = owned.add(new CudaPagedAttention(context));
            step = owned.add(new CudaDecoderStep(context));
        } catch (RuntimeException | Error e) {
            owned.closeAfter(e);
            throw e;
        }
    }

    @Override
    public long alloc(long bytes) {
        refuseInCapture("alloc");
        DeviceBuffer b = new DeviceBuffer(context, Math.max(bytes, 16));
        buffers.put(b.address(), b);
        allocated += b.bytes();
        return b.address();
    }

    /** The buffer holding {@code address}, and the offset into it; the range must lie inside. */
    private Map.Entry<Long, DeviceBuffer> find(long address, long bytes) {
        Map.Entry<Long, DeviceBuffer> e = buffers.floorEntry(address);
        if (e == null || address - e.getKey() + bytes > e.getValue().bytes()) {
            throw new IllegalArgumentException("device range 0x" + Long.toHexString(address) + " + " + bytes + " is in no allocation");
        }
        return e;
    }

    private PinnedBuffer staging(long bytes) {
        long want = Math.min(STAGING_BYTES, Math.max(bytes, 64 * 1024));
        if (staging == null || staging.bytes() < want) {
            stream.synchronize(); // a queued copy may still read the old one
            if (staging != null) {
                PinnedBuffer old = staging;
                staging = null; // a failed allocation below leaves none, not a closed one
                old.close();
            }
            staging = new PinnedBuffer(context, want);
        }
        return staging;
    }

    /**
     * Uploads that fit the ring are staged in a range of their own and only queued: the host goes on while the GPU works
     * (one synchronise per wrap of the ring); larger ones (weights at load) go through the staging buffer and wait.
     */
    @Override
    public void upload(long dst, ByteBuffer src) {
        refuseInCapture("upload");
        int n = src.remaining();
        Map.Entry<Long, DeviceBuffer> e = find(dst, n);
        if (n == 0) {
            return;
        }
        long base = dst - e.getKey();
        long at = ringPlan.reserve(n);
        if (at >= 0) {
            if (ring == null) {
                ring = new PinnedBuffer(context, UPLOAD_RING_BYTES);
                ringBytes = ring.buffer();
            }
            if (ringPlan.mustWait()) {
                stream.synchronize(); // the ring starts again at 0: every copy out of it has been read
            }
            ringBytes.put((int) at, src, src.position(), n);
            CudaCopies.hostToDeviceAsync(e.getValue(), base, ring, at, n, stream);
            return;
        }
        PinnedBuffer stage = staging(n);
        ByteBuffer host = stage.buffer();
        for (int off = 0; off < n; ) {
            int len = (int) Math.min(stage.bytes(), n - off);
            stream.synchronize(); // the staging buffer is free again
            host.put(0, src, src.position() + off, len);
            CudaCopies.hostToDeviceAsync(e.getValue(), base + off, stage, 0, len, stream);
            off += len;
        }
        stream.synchronize();
    }

    @Override
    public void download(long src, ByteBuffer dst) {
        refuseInCapture("download");
        int n = dst.remaining();
        Map.Entry<Long, DeviceBuffer> e = find(src, n);
        PinnedBuffer stage = staging(n);
        for (int off = 0; off < n; ) {
            int len = (int) Math.min(stage.bytes(), n - off);
            CudaCopies.deviceToHostAsync(stage, 0, e.getValue(), src - e.getKey() + off, len, stream);
            stream.synchronize();
            dst.put(dst.position() + off, stage.buffer(0, len), 0, len);
            off += len;
        }
    }

    @Override
    public void downloadRows(long src, long pitch, int rowBytes, int rows, ByteBuffer dst) {
        refuseInCapture("downloadRows");
        if (rowBytes > pitch) {
            throw new IllegalArgumentException("rows of " + rowBytes + " bytes do not fit a pitch of " + pitch);
        }
        if (rows == 0 || rowBytes == 0) {
            return;
        }
        Map.Entry<Long, DeviceBuffer> e = find(src, (rows - 1) * pitch + rowBytes);
        PinnedBuffer stage = staging((long) rows * rowBytes);
        int perCopy = (int) Math.max(1, stage.bytes() / rowBytes); // rows the staging buffer holds
        for (int r = 0; r < rows; r += perCopy) {
            int n = Math.min(perCopy, rows - r);
            CudaCopies.deviceRowsToHostAsync(stage, 0, e.getValue(), src - e.getKey() + r * pitch, pitch, rowBytes, n, stream);
            stream.synchronize();
            dst.put(dst.position() + r * rowBytes, stage.buffer(0, n * rowBytes), 0, n * rowBytes);
        }
    }

    @Override
    public void setInt(long address, int value) {
        refuseInCapture("setInt");
        Map.Entry<Long, DeviceBuffer> e = find(address, 4);
        context.makeCurrent();
        Cuda.check(JCudaDriver.cuMemsetD32Async(e.getValue().pointer(address - e.getKey()), value, 1, stream.handle()),
                "cuMemsetD32Async at offset " + (address - e.getKey()) + " of " + e.getValue());
    }

    @Override
    public void fill(long address, long bytes, byte value) {
        refuseInCapture("fill");
        Map.Entry<Long, DeviceBuffer> e = find(address, bytes);
        e.getValue().fill(address - e.getKey(), bytes, value, stream);
    }

    @Override
    public void fillRows(long address, long pitch, long rowBytes, int rows, byte value) {
        refuseInCapture("fillRows");
        if (rowBytes > pitch) {
            throw new IllegalArgumentException("rows of " + rowBytes + " bytes do not fit a pitch of " + pitch);
        }
        if (rows == 0 || rowBytes == 0) {
            return;
        }
        Map.Entry<Long, DeviceBuffer> e = find(address, (rows - 1) * pitch + rowBytes);
        context.makeCurrent();
        Cuda.check(JCudaDriver.cuMemsetD2D8Async(e.getValue().pointer(address - e.getKey()), pitch, value, rowBytes, rows,
                stream.handle()), "cuMemsetD2D8Async of " + rows + " rows of " + rowBytes + " bytes in " + e.getValue());
    }

    @Override
    public void embed(long out, DeviceWeights.Matrix table, int token) {
        ops.embedAsync(out, table.address(), table.dtype(), table.rows(), table.cols(), token, stream);
    }

    @Override
    public void embedRows(long out, DeviceWeights.Matrix table, long ids, int count) {
        ops.embedAsync(out, table.address(), table.dtype(), table.rows(), table.cols(), ids, count, stream);
    }

    @Override
    public void rmsNorm(long out, long x, long w, int rows, int dim, float eps) {
        ops.rmsNormAsync(out, x, w, DType.F32, rows, dim, eps, stream);
    }

    @Override
    public void gemv(long y, DeviceWeights.Matrix w, long x, long residual) {
        linear.gemvAsync(y, w.address(), w.dtype(), x, residual, w.rows(), w.cols(), stream);
    }

    @Override
    public void gemm(long y, DeviceWeights.Matrix w, long x, long residual, int rows) {
        linear.gemmAsync(y, x, w.address(), w.dtype(), residual, rows, w.rows(), w.cols(), stream);
    }

    @Override
    public void normGemv(long y, DeviceWeights.Matrix w, long x, long normW, float eps, long residual) {
        linear.normGemvAsync(y, w.address(), w.dtype(), x, normW, eps, residual, w.rows(), w.cols(), stream);
    }

    @Override
    public void normGemvRope(long qkv, DeviceWeights.Matrix wqkv, long x, long normW, float eps, long bias, int heads, int kvHeads,
                             int headDim, int position, long cos, long sin, int tableRows, PagedKvShape kv, long slot, int row) {
        StepDevice.checkStackedQkv(wqkv, heads, kvHeads, headDim);
        linear.normGemvRopeAsync(qkv, wqkv.address(), wqkv.dtype(), x, normW, eps, bias, heads, kvHeads, headDim, position, cos, sin,
                tableRows, wqkv.cols(), kv, slot, row, stream);
    }

    @Override
    public void normGemvRopeAt(long qkv, DeviceWeights.Matrix wqkv, long x, long normW, float eps, long bias, int heads, int kvHeads,
                               int headDim, long params, long cos, long sin, int tableRows, PagedKvShape kv, long slab) {
        StepDevice.checkStackedQkv(wqkv, heads, kvHeads, headDim);
        linear.normGemvRopeAtAsync(qkv, wqkv.address(), wqkv.dtype(), x, normW, eps, bias, heads, kvHeads, headDim, params, cos, sin,
                wqkv.cols(), kv, slab, stream);
    }

    @Override
    public void normSwiGlu(long y, DeviceWeights.Matrix wGateUp, long x, long normW, float eps) {
        linear.normSwiGluAsync(y, wGateUp.address(), wGateUp.dtype(), x, normW, eps, wGateUp.rows() / 2, wGateUp.cols(), stream);
    }

    @Override
    public void rope(long q, long k, int tokens, int heads, int kvHeads, int headDim, int start, long cos, long sin, int tableRows) {
        ops.ropeAsync(q, k, tokens, heads, kvHeads, headDim, start, cos, sin, tableRows, stream);
    }

    @Override
    public void appendRows(PagedKvShape shape, long slab, long capacity, int slot, int row, int rows, long k, long v) {
        step.appendRowsAsync(shape, slab, capacity, slot, row, rows, k, v, stream);
    }

    @Override
    public void attendParts(PagedKvShape shape, long q, int rows, int firstPosition, PagedPart first, PagedPart second, float scale,
                            long out, long lse) {
        if (firstPosition < 0) {
            if (rows != 1) {
                throw new IllegalArgumentException("rows without a first position: " + rows);
            }
            attention.attendPartsAsync(shape, q, first, second, scale, out, lse, stream);
        } else {
            attention.attendPartsRowsAsync(shape, q, rows, firstPosition, first, second, scale, out, lse, stream);
        }
    }

    @Override
    public void attendLive(PagedKvShape shape, long q, long slab, long slabBytes, long slots, long validRows, long mask, long headMask,
                           long liveBlocks, int maxBlocks, float scale, long out, long lse) {
        attention.attendLiveAsync(shape, q, slab, slabBytes, slots, validRows, mask, headMask, liveBlocks, maxBlocks, scale, out, lse,
                stream);
    }

    @Override
    public void merge(long o1, long lse1, long o2, long lse2, long out, long lseOut, int heads, int headDim) {
        attention.mergeAsync(o1, lse1, o2, lse2, out, lseOut, heads, headDim, stream);
    }

    @Override
    public void probs(PagedKvShape shape, long q, PagedPart first, PagedPart second, float scale, long lse, long probs, int stride) {
        if (pagedProbs == null) {
            refuseInCapture("loading the probabilities kernel");
            pagedProbs = owned.add(new CudaPagedProbs(context));
        }
        pagedProbs.probsPartsAsync(shape, q, first, second, scale, lse, probs, stride, stream);
    }

    @Override
    public void topK(long probs, int batches, int heads, int stride, int keys, int k, long out, long outCount) {
        if (popularity == null) {
            refuseInCapture("loading the top-k kernel");
            KernelModule module = owned.add(KernelModule.load(context, PopularityKernel.MODULE));
            popularity = owned.add(new PopularityKernel(context, module, stream));
        }
        popularity.launch(probs, (long) heads * stride, batches, heads, stride, keys, 0, k, out, outCount, 0L, 0L);
    }

    @Override
    public void add(long out, long a, long b, int n) {
        ops.addAsync(out, a, b, n, stream);
    }

    @Override
    public void siluMul(long out, long gate, long up, int n) {
        ops.siluMulAsync(out, gate, up, n, stream);
    }

    @Override
    public void argmax(long x, int n, long out) {
        step.argmaxAsync(x, n, out, stream);
    }

    @Override
    public long digests(DigestShape shape, int capacity) {
        refuseInCapture("digests");
        if (digests != null) {
            throw new IllegalStateException("the device's digest array is already allocated");
        }
        digests = owned.add(new CudaBlockDigests(context, shape, capacity));
        allocated += digests.bytes();
        return digests.bytes();
    }

    private CudaBlockDigests digestArray() {
        if (digests == null) {
            throw new IllegalStateException("no digest array: call digests(shape, capacity) first");
        }
        return digests;
    }

    @Override
    public void digestUpdate(PagedKvShape kv, long slab, long slabBytes, long keyOffset, long slots, long digestIndexes, int nBlocks) {
        digestArray().updateAsync(kv, slab, slabBytes, keyOffset, slots, digestIndexes, nBlocks, stream);
    }

    @Override
    public void digestScore(long q, int heads, float scale, long digestIndexes, int nBlocks, long out) {
        digestArray().scoreAsync(q, heads, scale, digestIndexes, nBlocks, out, stream);
    }

    @Override
    public void digestExact(PagedKvShape kv, long q, float scale, long slab, long slabBytes, long keyOffset, long slots, long validRows,
                            long mask, long headMask, int nBlocks, long out) {
        digestArray().exactAsync(kv, q, scale, slab, slabBytes, keyOffset, slots, validRows, mask, headMask, nBlocks, out, stream);
    }

    @Override
    public void headSlices(long scores, int n, int heads, int kvHeads, int cap, long capFrom, double min, long value, long headMask,
                           long taken) {
        headSlicesKernel().chooseAsync(scores, n, heads, kvHeads, cap, capFrom, Math.log(min), value, headMask, taken, stream);
    }

    /** In one launch ({@code head_slices_exact}) where the choice fits one CTA's shared memory; else the three launches. */
    @Override
    public void headSlicesExact(PagedKvShape kv, long q, float scale, long scores, int n, int keys, int slices, double min, long slab,
                                long slabBytes, long keyOffset, long slots, long validRows, long mask, long value, long exactScores,
                                long headMask, long taken) {
        if (CudaHeadSlices.exactBytes(n, kv.heads(), kv.kvHeads()) == 0) {
            StepDevice.super.headSlicesExact(kv, q, scale, scores, n, keys, slices, min, slab, slabBytes, keyOffset, slots, validRows, mask,
                    value, exactScores, headMask, taken);
            return;
        }
        headSlicesKernel().chooseExactAsync(kv, scores, n, keys, slices, Math.log(min), q, scale, slab, slabBytes, keyOffset, slots,
                validRows, mask, headMask, taken, stream);
    }

    private CudaHeadSlices headSlicesKernel() {
        if (headSlices == null) {
            refuseInCapture("loading the head slices kernel");
            headSlices = owned.add(new CudaHeadSlices(context));
        }
        return headSlices;
    }

    /** A CUDA graph of the stream's work ({@link CudaGraph#capture}); the ring and staging copies are refused inside. */
    @Override
    public StepGraph capture(Runnable work) {
        if (stream.isCapturing()) {
            throw new IllegalStateException("a capture is already under way");
        }
        CudaGraph graph = CudaGraph.capture(stream, work);
        int scratch = attention.scratchGeneration();
        graphs.add(graph);
        return new StepGraph() {
            @Override
            public void launch() {
                refuseInCapture("a graph launch");
                if (stale()) {
                    throw new IllegalStateException("the graph holds the paged attention's old scratch: capture it again");
                }
                graph.launch(stream);
            }

            @Override
            public boolean stale() {
                return attention.scratchGeneration() != scratch;
            }

            @Override
            public void close() {
                if (graphs.remove(graph)) {
                    graph.close();
                }
            }
        };
    }

    private void refuseInCapture(String call) {
        if (stream.isCapturing()) {
            throw new IllegalStateException(call + " inside a captured step: what a graph replays must be kernels only");
        }
    }

    @Override
    public long allocatedBytes() {
        return allocated;
    }

    @Override
    public void synchronize() {
        if (!closed) {
            stream.synchronize();
        }
    }

    /**
     * Waits for the stream, then frees the buffers, the staging buffer, the ops, the stream and the context. They are freed
     * even when the wait fails (a kernel's fault leaves the context's error sticky): the wait's error is thrown after, with
     * what freeing failed suppressed into it.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        RuntimeException failed = null;
        try {
            stream.synchronize();
        } catch (RuntimeException e) {
            failed = e;
        }
        try {
            freeAll();
        } catch (RuntimeException e) {
            if (failed == null) {
                throw e;
            }
            failed.addSuppressed(e);
        }
        if (failed != null) {
            throw failed;
        }
    }

    private void freeAll() {
        for (CudaGraph g : graphs) {
            owned.add(g);
        }
        graphs.clear();
        for (DeviceBuffer b : buffers.values()) {
            owned.add(b);
        }
        buffers.clear();
        if (staging != null) {
            owned.add(staging);
        }
        if (ring != null) {
            owned.add(ring);
        }
        owned.closeAll();
    }
}

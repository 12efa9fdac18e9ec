package io.tierkv.cuda.attention;

import io.tierkv.cuda.driver.CudaContext;
import io.tierkv.cuda.driver.CudaCopies;
import io.tierkv.cuda.driver.CudaDevice;
import io.tierkv.cuda.driver.CudaStream;
import io.tierkv.cuda.driver.DeviceBuffer;
import io.tierkv.cuda.driver.KernelModule;
import io.tierkv.cuda.driver.LaunchArgs;
import io.tierkv.cuda.driver.Owned;
import io.tierkv.cuda.driver.PinnedBuffer;
import io.tierkv.cuda.driver.ReuseFence;
import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import jcuda.Pointer;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUdeviceptr;
import jcuda.jcublas.JCublas2;
import jcuda.jcublas.cublasHandle;
import jcuda.jcublas.cublasOperation;
import jcuda.runtime.cudaStream_t;

/**
 * Attention probabilities on the device, without libtorch: q.K^T by cuBLAS batched GEMM (one small
 * GEMM per block and key head, {@code [blockSize x headDim] x [headDim x group]}, pointers built on the
 * host because blocks are scattered) or, where JCublas cannot load, by the {@code block_scores} kernel;
 * then {@code softmax_rows}. {@link #probabilitiesAsync} leaves the probabilities on the device for
 * {@code PopularityKernel}; {@link #probabilities} copies them back for the {@link AttentionScores}
 * contract. Not thread-safe.
 */
public final class CudaAttentionScores implements AttentionScores<DeviceBuffer>, AutoCloseable {
    /** The module ({@code attention.cu}). */
    public static final String MODULE = "attention";
    static final int THREADS = 256;
    /** Dynamic shared memory a CTA may have without opting in. */
    static final int DEFAULT_SHARED = 48 * 1024;

    /** How q.K^T is computed. */
    public enum Engine { CUBLAS, KERNEL }

    private final CudaContext context;
    private final KernelModule module;
    private final CudaStream ownStream;
    private final ReuseFence<CudaStream> hostStagingFree;   // recorded after the upload that reads the pinned staging
    private final ReuseFence<CudaStream> deviceStagingFree; // recorded after the launch that reads the device staging
    private final Engine engine;
    private final cublasHandle cublas;
    private final int sharedOptIn;      // the most dynamic shared memory the device allows a CTA
    private int sharedAllowed = DEFAULT_SHARED; // what block_scores may use now
    private PinnedBuffer hostStaging;   // q [heads][headDim] f32, then blocks i32 or GEMM pointer arrays (3 x batch) u64
    private ByteBuffer hostStagingView; // over hostStaging, made once per allocation
    private FloatBuffer hostStagingFloats;
    private java.nio.IntBuffer hostStagingInts;
    private DeviceBuffer deviceStaging; // the same layout on the device
    private DeviceBuffer scores;        // [heads][stride] f32 for the host path
    private PinnedBuffer hostProbs;     // [heads][stride] f32 for the host path

    private final float[] alpha = new float[1];
    private final float[] beta = {0f};
    private final LaunchArgs args; // packed per launch: one native pointer per cuLaunchKernel

    /** Uses cuBLAS when {@link CublasSupport#available()}, else the kernel. */
    public CudaAttentionScores(CudaContext context) {
        this(context, CublasSupport.available() ? Engine.CUBLAS : Engine.KERNEL);
    }

    /** Uses {@code engine}; {@link Engine#CUBLAS} throws with the reason when JCublas cannot load. */
    public CudaAttentionScores(CudaContext context, Engine engine) {
        if (engine == Engine.CUBLAS && !CublasSupport.available()) {
            throw new IllegalStateException("cuBLAS scores are unavailable: " + CublasSupport.reason());
        }
        this.context = context;
        this.engine = engine;
        this.sharedOptIn = CudaDevice.attribute(context.ordinal(), CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN);
        Owned taken = new Owned();
        try {
            this.module = taken.add(KernelModule.load(context, MODULE));
            this.ownStream = taken.add(new CudaStream(context));
            this.hostStagingFree = taken.add(ReuseFence.create(context));
            this.deviceStagingFree = taken.add(ReuseFence.create(context));
            this.args = taken.add(new LaunchArgs(context, 128));
            if (engine == Engine.CUBLAS) {
                context.makeCurrent();
                cublasHandle h = new cublasHandle();
                CublasSupport.check(JCublas2.cublasCreate(h), "cublasCreate on device " + context.ordinal());
                this.cublas = h;
            } else {
                this.cublas = null;
            }
        } catch (RuntimeException | Error e) {
            taken.closeAfter(e);
            throw e;
        }
    }

    @Override
    public String name() {
        return engine == Engine.CUBLAS ? "cuda-cublas" : "cuda-kernel";
    }

    /** The engine in use. */
    public Engine engine() {
        return engine;
    }

    /** Rows of the device output must be at least this long: whole blocks, so the last block writes into padding. */
    public static int paddedStride(ScoreShape shape, int tokens) {
        return shape.blocksFor(tokens) * shape.blockSize();
    }

    @Override
    public void probabilities(float[] q, ScoreShape shape, DeviceBuffer pool, int[] blocks, int tokens, float[] probs, int probsStride) {
        shape.check(q, pool.bytes(), blocks, tokens, probs, probsStride);
        checkAligned(shape); // before anything is allocated or launched
        int stride = paddedStride(shape, tokens);
        long bytes = (long) shape.heads() * stride * Float.BYTES;
        if (scores == null || scores.bytes() < bytes) {
            ownStream.synchronize();
            closeQuietly(scores, hostProbs);
            scores = new DeviceBuffer(context, bytes);
            hostProbs = new PinnedBuffer(context, bytes);
        }
        probabilitiesAsync(q, shape, pool, blocks, tokens, scores.address(), stride, ownStream);
        CudaCopies.deviceToHostAsync(hostProbs, 0, scores, 0, bytes, ownStream);
        ownStream.synchronize();
        FloatBuffer out = hostProbs.buffer(0, (int) bytes).asFloatBuffer();
        for (int h = 0; h < shape.heads(); h++) {
            out.get(h * stride, probs, h * probsStride, tokens);
        }
    }

    /**
     * Enqueues scores and softmax on {@code stream}: {@code probs} (a device address) receives
     * {@code heads} rows, {@code stride >= paddedStride(shape, tokens)} floats apart, of which the first
     * {@code tokens} are the probabilities. {@code q} and {@code blocks} may be reused on return.
     */
    public void probabilitiesAsync(float[] q, ScoreShape shape, DeviceBuffer pool, int[] blocks, int tokens, long probs, int stride,
                                   CudaStream stream) {
        probabilitiesAsync(q, shape, pool, blocks, tokens, probs, stride, 0L, stream);
    }

    /**
     * As {@link #probabilitiesAsync(float[], ScoreShape, DeviceBuffer, int[], int, long, int, CudaStream)}, with
     * {@code mask} the device address of {@code tokens} bytes (0: none): a key whose byte is not 0 is evicted,
     * gets probability 0 and is left out of the softmax sum. The staging buffers are reused only after the
     * previous call's upload (host) and launches (any stream) are past them.
     */
    public void probabilitiesAsync(float[] q, ScoreShape shape, DeviceBuffer pool, int[] blocks, int tokens, long probs, int stride,
                                   long mask, CudaStream stream) {
        if (stream.isCapturing()) { // a graph would replay the staged q and blocks of this call, whatever the next one stages
            throw new IllegalStateException("attention probabilities stage their inputs through host memory per call and cannot be"
                    + " captured into a CUDA graph");
        }
        shape.checkInputs(q, pool.bytes(), blocks, tokens);
        if (stride < paddedStride(shape, tokens)) {
            throw new IllegalArgumentException("stride must be >= " + paddedStride(shape, tokens) + " (whole blocks), was " + stride);
        }
        checkAligned(shape);
        int used = shape.blocksFor(tokens);
        int qBytes = (shape.heads() * shape.headDim() * Float.BYTES + 15) & ~15; // the pointer arrays after q must be 8-byte aligned
        int batch = used * shape.kvHeads();
        long tail = engine == Engine.CUBLAS ? 3L * batch * Long.BYTES : (long) used * Integer.BYTES;
        ByteBuffer host = stage(qBytes + tail);
        hostStagingFloats.put(0, q, 0, shape.heads() * shape.headDim());
        long dq = deviceStaging.address();
        long dTail = dq + qBytes;
        if (engine == Engine.CUBLAS) {
            writePointers(host, qBytes, shape, pool.address(), blocks, used, dq, probs, stride);
        } else {
            hostStagingInts.put(qBytes / Integer.BYTES, blocks, 0, used);
        }
        deviceStagingFree.beforeDeviceUse(stream);
        CudaCopies.hostToDeviceAsync(deviceStaging, 0, hostStaging, 0, qBytes + tail, stream);
        hostStagingFree.afterUse(stream);
        if (engine == Engine.CUBLAS) {
            gemm(shape, batch, dTail, stride, stream);
        } else {
            blockScores(shape, dq, pool.address(), dTail, used, probs, stride, stream);
        }
        deviceStagingFree.afterUse(stream);
        // softmax_rows(scores, probs, cols, stride, mask), in place
        args.clear().i64(probs).i64(probs).i32(tokens).i32(stride).i64(mask);
        module.launch("softmax_rows", shape.heads(), 1, THREADS, 0, stream, args);
    }

    /** The GEMM pointer arrays for batch entry i = b * kvHeads + g: K of (block b, head g), q of group g, the output tile. */
    private static void writePointers(ByteBuffer host, int at, ScoreShape s, long pool, int[] blocks, int used, long dq, long probs,
                                      int stride) {
        int batch = used * s.kvHeads();
        int group = s.group();
        for (int b = 0; b < used; b++) {
            for (int g = 0; g < s.kvHeads(); g++) {
                int i = b * s.kvHeads() + g;
                host.putLong(at + 8 * i, pool + blocks[b] * s.blockBytes() + (long) g * s.headDim() * Float.BYTES);
                host.putLong(at + 8 * (batch + i), dq + (long) g * group * s.headDim() * Float.BYTES);
                host.putLong(at + 8 * (2 * batch + i), probs + ((long) g * group * stride + (long) b * s.blockSize()) * Float.BYTES);
            }
        }
    }

    /**
     * Column-major view: C (blockSize x group, ldc = stride) = scale * K^T (blockSize x headDim; K stored
     * headDim x blockSize with lda = kvHeads * headDim) x Q (headDim x group, ldb = headDim). C's column j
     * is query head g * group + j's row of the output, so the output is [heads][stride] row-major.
     */
    private void gemm(ScoreShape s, int batch, long pointers, int stride, CudaStream stream) {
        context.makeCurrent();
        CublasSupport.check(JCublas2.cublasSetStream(cublas, new cudaStream_t(stream.handle())), "cublasSetStream");
        alpha[0] = s.scale();
        CUdeviceptr a = deviceStaging.pointer(pointers - deviceStaging.address());
        CUdeviceptr b = deviceStaging.pointer(pointers - deviceStaging.address() + 8L * batch);
        CUdeviceptr c = deviceStaging.pointer(pointers - deviceStaging.address() + 16L * batch);
        CublasSupport.check(JCublas2.cublasSgemmBatched(cublas, cublasOperation.CUBLAS_OP_T, cublasOperation.CUBLAS_OP_N,
                s.blockSize(), s.group(), s.headDim(), Pointer.to(alpha), a, s.kvHeads() * s.headDim(), b, s.headDim(),
                Pointer.to(beta), c, stride, batch), "cublasSgemmBatched of " + batch + " [" + s.blockSize() + " x " + s.headDim()
                + "] x [" + s.headDim() + " x " + s.group() + "] products");
    }

    private void blockScores(ScoreShape s, long dq, long pool, long dBlocks, int used, long probs, int stride, CudaStream stream) {
        int shared = (s.blockSize() * (s.headDim() + 1) + s.group() * s.headDim()) * Float.BYTES;
        if (shared > sharedAllowed) { // large blocks: opt in to the device's limit, once per size reached
            if (shared > sharedOptIn) {
                throw new IllegalArgumentException("block_scores needs " + shared + " bytes of shared memory for blockSize "
                        + s.blockSize() + " and headDim " + s.headDim() + "; the device allows a CTA " + sharedOptIn);
            }
            module.allowSharedMemory("block_scores", shared);
            sharedAllowed = shared;
        }
        // block_scores(q, pool, blocks, blockBytes, blockSize, heads, kvHeads, headDim, scale, scores, stride)
        args.clear().i64(dq).i64(pool).i64(dBlocks).i64(s.blockBytes()).i32(s.blockSize()).i32(s.heads()).i32(s.kvHeads()).i32(s.headDim())
                .f32(s.scale()).i64(probs).i32(stride);
        module.launch("block_scores", used, s.kvHeads(), THREADS, shared, stream, args);
    }

    /**
     * Refuses, with an {@link IllegalArgumentException} naming the size, blocks that are not a multiple of 16 bytes
     * apart: the kernels read blocks with 16-byte loads, and a misaligned device load poisons the CUDA context.
     */
    public static void checkAligned(ScoreShape shape) {
        if (shape.blockBytes() % 16 != 0) {
            throw new IllegalArgumentException("blockBytes must be a multiple of 16 on the GPU, was " + shape.blockBytes()
                    + " (blockSize " + shape.blockSize() + ", kvHeads " + shape.kvHeads() + ", headDim " + shape.headDim() + ")");
        }
    }

    /** The pinned staging area, once the previous upload has left it; grown as needed. */
    private ByteBuffer stage(long bytes) {
        hostStagingFree.beforeHostWrite();
        if (hostStaging == null || hostStaging.bytes() < bytes) {
            context.synchronize(); // a queued launch may still read the old device staging
            closeQuietly(hostStaging, deviceStaging);
            long capacity = Math.max(bytes, 64 * 1024);
            hostStaging = new PinnedBuffer(context, capacity);
            deviceStaging = new DeviceBuffer(context, capacity);
            hostStagingView = hostStaging.buffer(0, (int) capacity);
            hostStagingFloats = hostStagingView.asFloatBuffer();
            hostStagingInts = hostStagingView.asIntBuffer();
        }
        return hostStagingView;
    }

    private static void closeQuietly(AutoCloseable... resources) {
        for (AutoCloseable r : resources) {
            if (r instanceof PinnedBuffer) {
                ((PinnedBuffer) r).close();
            } else if (r instanceof DeviceBuffer) {
                ((DeviceBuffer) r).close();
            }
        }
    }

    /** A close that throws no checked exception (the cuBLAS handle's destruction in {@link #close}). */
    private interface Release extends AutoCloseable {
        @Override
        void close();
    }

    /** Waits for queued work, then frees everything it owns; idempotent. */
    @Override
    public void close() {
        if (ownStream.isClosed()) {
            return;
        }
        PinnedBuffer hs = hostStaging;
        DeviceBuffer ds = deviceStaging;
        DeviceBuffer sc = scores;
        PinnedBuffer hp = hostProbs;
        Release handle = cublas == null ? null : () -> {
            context.makeCurrent();
            CublasSupport.check(JCublas2.cublasDestroy(cublas), "cublasDestroy");
        };
        // Every resource is closed, in reverse order, also when the wait or an earlier free fails (a kernel's fault is
        // sticky: then every free reports it too); the first failure is thrown, the others suppressed into it.
        try (module; ownStream; hostStagingFree; deviceStagingFree; args; handle; hs; ds; sc; hp) {
            context.synchronize();
        }
    }
}

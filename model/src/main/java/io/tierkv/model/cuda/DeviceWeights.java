package io.tierkv.model.cuda;

import io.tierkv.core.DType;
import io.tierkv.cuda.driver.CudaContext;
import io.tierkv.cuda.driver.CudaCopies;
import io.tierkv.cuda.driver.CudaStream;
import io.tierkv.cuda.driver.DeviceBuffer;
import io.tierkv.cuda.driver.PinnedBuffer;
import io.tierkv.model.io.MappedRegions;
import io.tierkv.model.io.SafeTensorsFile;
import io.tierkv.model.llama.LlamaConfig;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A Llama checkpoint's weights in device memory, uploaded once through a pinned staging buffer straight from the
 * memory-mapped safetensors files (no libtorch). Matrices and the embedding keep the checkpoint's dtype (F32, F16,
 * BF16); norms and biases are uploaded as fp32, as the CPU decoder holds them. Owns every buffer; {@link #close()}
 * frees them (the caller makes sure no launch still reads them).
 */
final class DeviceWeights implements AutoCloseable {
    /** Staging chunk of the upload. */
    static final long STAGING_BYTES = 32L << 20;

    /** A row-major {@code (rows, cols)} matrix on the device in its checkpoint dtype. */
    record Matrix(long address, DType dtype, int rows, int cols) {
    }

    /** One decoder layer: device addresses; a bias is 0 when the checkpoint has none. */
    record Layer(long attnNorm, Matrix wq, Matrix wk, Matrix wv, Matrix wo, long bq, long bk, long bv, long bo, long mlpNorm,
                 Matrix wGate, Matrix wUp, Matrix wDown) {
    }

    final LlamaConfig config;
    /** (V, D) token embeddings. */
    final Matrix embed;
    /** (V, D) output projection, {@link #embed} when tied. */
    final Matrix lmHead;
    /** (D) fp32 final norm. */
    final long norm;
    final Layer[] layers;
    private final List<DeviceBuffer> owned;
    private final long bytes;

    private DeviceWeights(LlamaConfig config, Matrix embed, Matrix lmHead, long norm, Layer[] layers, List<DeviceBuffer> owned) {
        this.config = config;
        this.embed = embed;
        this.lmHead = lmHead;
        this.norm = norm;
        this.layers = layers;
        this.owned = owned;
        this.bytes = owned.stream().mapToLong(DeviceBuffer::bytes).sum();
    }

    /** Uploads every tensor of {@code plan}; frees what it took if any upload fails. */
    static DeviceWeights upload(WeightPlan plan, CudaContext context, CudaStream stream) {
        try (Uploader up = new Uploader(plan, context, stream)) {
            LlamaConfig c = plan.config();
            Matrix embed = up.matrix(WeightPlan.EMBED);
            Matrix lmHead = c.tieWordEmbeddings() ? embed : up.matrix(WeightPlan.LM_HEAD);
            long norm = up.vector(WeightPlan.NORM);
            Layer[] layers = new Layer[c.layers()];
            for (int l = 0; l < layers.length; l++) {
                WeightPlan.LayerNames n = WeightPlan.LayerNames.of(l);
                layers[l] = new Layer(up.vector(n.attnNorm()), up.matrix(n.wq()), up.matrix(n.wk()), up.matrix(n.wv()), up.matrix(n.wo()),
                        up.optionalVector(n.bq()), up.optionalVector(n.bk()), up.optionalVector(n.bv()), up.optionalVector(n.bo()),
                        up.vector(n.mlpNorm()), up.matrix(n.wGate()), up.matrix(n.wUp()), up.matrix(n.wDown()));
            }
            return up.done(new DeviceWeights(c, embed, lmHead, norm, layers, up.owned));
        }
    }

    /** Device bytes held. */
    long bytes() {
        return bytes;
    }

    /** Frees every buffer; idempotent. */
    @Override
    public void close() {
        for (int i = owned.size() - 1; i >= 0; i--) {
            owned.get(i).close();
        }
    }

    /** The upload: open files, the staging buffer, and the buffers taken so far (freed unless {@link #done}). */
    private static final class Uploader implements AutoCloseable {
        private final WeightPlan plan;
        private final CudaContext context;
        private final CudaStream stream;
        private final PinnedBuffer staging;
        private final Map<Path, SafeTensorsFile> files = new HashMap<>();
        private final List<DeviceBuffer> owned = new ArrayList<>();
        private boolean done;

        Uploader(WeightPlan plan, CudaContext context, CudaStream stream) {
            this.plan = plan;
            this.context = context;
            this.stream = stream;
            this.staging = new PinnedBuffer(context, Math.max(64 * 1024, Math.min(STAGING_BYTES, 4 * plan.largest())));
        }

        Matrix matrix(String name) {
            WeightPlan.Entry e = entry(name);
            long[] shape = e.info().shape();
            DeviceBuffer d = take(e.bytes());
            try (MappedRegions mapped = new MappedRegions()) {
                copy(mapped.add(file(e).map(name)), d);
            }
            return new Matrix(d.address(), e.dtype(), Math.toIntExact(shape[0]), Math.toIntExact(shape[1]));
        }

        long vector(String name) {
            WeightPlan.Entry e = entry(name);
            float[] values = file(e).readFloats(name);
            ByteBuffer b = ByteBuffer.allocate(values.length * Float.BYTES).order(ByteOrder.nativeOrder());
            b.asFloatBuffer().put(values);
            DeviceBuffer d = take(b.capacity());
            copy(b, d);
            return d.address();
        }

        long optionalVector(String name) {
            return plan.tensors().containsKey(name) ? vector(name) : 0L;
        }

        private WeightPlan.Entry entry(String name) {
            WeightPlan.Entry e = plan.tensors().get(name);
            if (e == null) {
                throw new IllegalArgumentException("the weight plan has no tensor '" + name + "'");
            }
            return e;
        }

        private SafeTensorsFile file(WeightPlan.Entry e) {
            return files.computeIfAbsent(e.file(), SafeTensorsFile::open);
        }

        private DeviceBuffer take(long bytes) {
            DeviceBuffer d = new DeviceBuffer(context, Math.max(bytes, 16));
            owned.add(d);
            return d;
        }

        /** Copies all of {@code src} (position 0) to the start of {@code dst}, a staging chunk at a time. */
        private void copy(ByteBuffer src, DeviceBuffer dst) {
            int n = src.capacity();
            ByteBuffer stage = staging.buffer();
            for (int off = 0; off < n; ) {
                int len = (int) Math.min(staging.bytes(), n - off);
                stage.put(0, src, off, len);
                CudaCopies.hostToDeviceAsync(dst, off, staging, 0, len, stream);
                stream.synchronize(); // the staging buffer is rewritten next
                off += len;
            }
        }

        DeviceWeights done(DeviceWeights weights) {
            done = true;
            return weights;
        }

        @Override
        public void close() {
            files.values().forEach(SafeTensorsFile::close);
            if (!stream.isClosed()) {
                stream.synchronize(); // a failed upload may have left a copy from the staging buffer queued
            }
            staging.close();
            if (!done) {
                for (int i = owned.size() - 1; i >= 0; i--) {
                    owned.get(i).close();
                }
            }
        }
    }
}

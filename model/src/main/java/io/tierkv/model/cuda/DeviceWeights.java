package io.tierkv.model.cuda;

import io.tierkv.core.DType;
import io.tierkv.model.io.MappedRegions;
import io.tierkv.model.io.SafeTensorsFile;
import io.tierkv.model.llama.LlamaConfig;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * A Llama checkpoint's weights on a {@link StepDevice}, uploaded once straight from the memory-mapped safetensors files
 * (no libtorch). Matrices and the embedding keep the checkpoint's dtype (F32, F16, BF16); norms and biases are uploaded
 * as fp32, as the CPU decoder holds them. The device owns the memory.
 */
final class DeviceWeights {
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
    /** Device bytes the upload allocated. */
    final long bytes;

    private DeviceWeights(LlamaConfig config, Matrix embed, Matrix lmHead, long norm, Layer[] layers, long bytes) {
        this.config = config;
        this.embed = embed;
        this.lmHead = lmHead;
        this.norm = norm;
        this.layers = layers;
        this.bytes = bytes;
    }

    /** Uploads every tensor of {@code plan} to {@code device}. */
    static DeviceWeights upload(WeightPlan plan, StepDevice device) {
        long before = device.allocatedBytes();
        try (Uploader up = new Uploader(plan, device)) {
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
            return new DeviceWeights(c, embed, lmHead, norm, layers, device.allocatedBytes() - before);
        }
    }

    /** The upload's open files. */
    private static final class Uploader implements AutoCloseable {
        private final WeightPlan plan;
        private final StepDevice device;
        private final Map<Path, SafeTensorsFile> files = new HashMap<>();

        Uploader(WeightPlan plan, StepDevice device) {
            this.plan = plan;
            this.device = device;
        }

        Matrix matrix(String name) {
            WeightPlan.Entry e = entry(name);
            long[] shape = e.info().shape();
            long address = device.alloc(e.bytes());
            try (MappedRegions mapped = new MappedRegions()) {
                device.upload(address, mapped.add(file(e).map(name)));
            }
            return new Matrix(address, e.dtype(), Math.toIntExact(shape[0]), Math.toIntExact(shape[1]));
        }

        long vector(String name) {
            float[] values = file(entry(name)).readFloats(name);
            ByteBuffer b = ByteBuffer.allocate(values.length * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
            b.asFloatBuffer().put(values);
            long address = device.alloc(b.capacity());
            device.upload(address, b);
            return address;
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

        @Override
        public void close() {
            files.values().forEach(SafeTensorsFile::close);
        }
    }
}

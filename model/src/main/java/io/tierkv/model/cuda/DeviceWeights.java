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
 *
 * <p>Matrices that read the same input are stacked row after row in one allocation when they share a dtype: q, k and v
 * ({@link Layer#wqkv}, with their biases as one vector when the checkpoint has any), gate and up ({@link Layer#wGateUp}),
 * so that one GEMV launch computes each group; the single matrices are views into the stack.
 */
final class DeviceWeights {
    /** A row-major {@code (rows, cols)} matrix on the device in its checkpoint dtype. */
    record Matrix(long address, DType dtype, int rows, int cols) {
    }

    /**
     * One decoder layer: device addresses; a bias is 0 when the checkpoint has none. {@code wqkv} (q, k, v stacked; null when
     * their dtypes differ) with {@code bqkv} (their biases stacked, zeros for a missing one; 0 without any), and
     * {@code wGateUp} (gate over up; null when their dtypes differ): the stacks the views {@code wq} ... {@code wUp} lie in.
     */
    record Layer(long attnNorm, Matrix wq, Matrix wk, Matrix wv, Matrix wo, long bq, long bk, long bv, long bo, long mlpNorm,
                 Matrix wGate, Matrix wUp, Matrix wDown, Matrix wqkv, long bqkv, Matrix wGateUp) {
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
                Matrix[] qkv = up.stacked(n.wq(), n.wk(), n.wv());
                Matrix[] gateUp = up.stacked(n.wGate(), n.wUp());
                long[] biases = up.stackedVectors(qkv, n.bq(), n.bk(), n.bv());
                layers[l] = new Layer(up.vector(n.attnNorm()), qkv[0], qkv[1], qkv[2], up.matrix(n.wo()),
                        biases[0], biases[1], biases[2], up.optionalVector(n.bo()),
                        up.vector(n.mlpNorm()), gateUp[0], gateUp[1], up.matrix(n.wDown()), qkv[3], biases[3], gateUp[2]);
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

        /**
         * The matrices {@code names} stacked row after row in one allocation when they share a dtype and a width: their
         * views, then the stack; else each in its own, and null for the stack.
         */
        Matrix[] stacked(String... names) {
            WeightPlan.Entry[] e = new WeightPlan.Entry[names.length];
            long total = 0;
            int rows = 0;
            boolean same = true;
            for (int i = 0; i < names.length; i++) {
                e[i] = entry(names[i]);
                total += e[i].bytes();
                rows += Math.toIntExact(e[i].info().shape()[0]);
                same &= e[i].dtype() == e[0].dtype() && e[i].info().shape()[1] == e[0].info().shape()[1];
            }
            Matrix[] out = new Matrix[names.length + 1];
            if (!same) {
                for (int i = 0; i < names.length; i++) {
                    out[i] = matrix(names[i]);
                }
                return out;
            }
            long base = device.alloc(total);
            long at = base;
            for (int i = 0; i < names.length; i++) {
                try (MappedRegions mapped = new MappedRegions()) {
                    device.upload(at, mapped.add(file(e[i]).map(names[i])));
                }
                long[] shape = e[i].info().shape();
                out[i] = new Matrix(at, e[i].dtype(), Math.toIntExact(shape[0]), Math.toIntExact(shape[1]));
                at += e[i].bytes();
            }
            out[names.length] = new Matrix(base, e[0].dtype(), rows, Math.toIntExact(e[0].info().shape()[1]));
            return out;
        }

        /**
         * The biases {@code names} of the matrices {@code stack} (views then the stack, {@link #stacked}) as one fp32 vector
         * (zeros for a missing one) when the stack exists and any bias does: their addresses in it (0 for a missing one),
         * then the vector's; else each on its own (0 when missing), and 0 for the vector.
         */
        long[] stackedVectors(Matrix[] stack, String... names) {
            long[] out = new long[names.length + 1];
            boolean any = false;
            for (String name : names) {
                any |= plan.tensors().containsKey(name);
            }
            if (!any) {
                return out;
            }
            if (stack[names.length] == null) {
                for (int i = 0; i < names.length; i++) {
                    out[i] = optionalVector(names[i]);
                }
                return out;
            }
            ByteBuffer b = ByteBuffer.allocate(stack[names.length].rows() * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
            long base = device.alloc(b.capacity());
            int row = 0;
            for (int i = 0; i < names.length; i++) {
                int rows = stack[i].rows();
                if (plan.tensors().containsKey(names[i])) {
                    float[] values = file(entry(names[i])).readFloats(names[i]);
                    if (values.length != rows) {
                        throw new IllegalArgumentException("bias '" + names[i] + "' has " + values.length + " values, its matrix "
                                + rows + " rows");
                    }
                    b.position(row * Float.BYTES);
                    b.asFloatBuffer().put(values);
                    out[i] = base + (long) row * Float.BYTES;
                }
                row += rows;
            }
            b.clear();
            device.upload(base, b);
            out[names.length] = base;
            return out;
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

package io.tierkv.model.llama;

import io.tierkv.core.DType;
import io.tierkv.model.io.MappedRegions;
import io.tierkv.model.io.SafeTensorsFile;
import io.tierkv.model.io.SafeTensorsWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.logging.Logger;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;

/**
 * Loads and saves Llama checkpoints in the Hugging Face layout: {@code config.json} plus
 * {@code model.safetensors}, or shards listed in {@code model.safetensors.index.json}. Every tensor the
 * config implies must be present with the implied shape.
 *
 * <p>The files are memory-mapped, not read into the heap: projections and the embedding are libtorch views
 * over the mapped bytes in the file's dtype (F32, BF16 or F16), so a BF16 model takes its file's size in
 * memory, in the page cache, and the weights' {@link MappedRegions} unmap them when the weights close.
 * Norms and biases (vectors) are copied to float32. Projections in 16 bits are multiplied by libtorch's
 * 16-bit kernels ({@link Tensors#linear}). The mapping is read-only: loaded weights are for inference, not
 * for training in place.
 */
public final class LlamaCheckpoint {
    private static final Logger LOG = Logger.getLogger(LlamaCheckpoint.class.getName());
    public static final String SINGLE = CheckpointFiles.SINGLE;
    public static final String INDEX = CheckpointFiles.INDEX;

    private LlamaCheckpoint() {
    }

    /** Loads config and weights from a model directory. */
    public static LlamaWeights load(Path dir) {
        LlamaConfig config = LlamaConfig.readDir(dir);
        Map<String, long[]> expected = LlamaWeights.expectedShapes(config);
        Map<String, Path> where = locate(dir);
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        Map<Path, SafeTensorsFile> open = new HashMap<>();
        MappedRegions mapped = new MappedRegions();
        try {
            for (Map.Entry<String, long[]> e : expected.entrySet()) {
                String name = e.getKey();
                Path file = where.get(name);
                if (file == null) {
                    throw new IllegalArgumentException(dir + ": tensor '" + name + "' is missing from the checkpoint");
                }
                SafeTensorsFile st = open.computeIfAbsent(file, SafeTensorsFile::open);
                SafeTensorsFile.TensorInfo info = st.tensors().get(name);
                if (info == null) {
                    throw new IllegalArgumentException(file + ": tensor '" + name + "' is listed in the index but not in the file");
                }
                if (!Arrays.equals(info.shape(), e.getValue())) {
                    throw new IllegalArgumentException(file + ": tensor '" + name + "' has shape " + Arrays.toString(info.shape())
                            + " but config.json implies " + Arrays.toString(e.getValue()));
                }
                tensors.put(name, toTensor(st, info, mapped));
            }
            List<String> ignored = new ArrayList<>();
            for (String name : where.keySet()) {
                if (!expected.containsKey(name)) {
                    ignored.add(name);
                }
            }
            if (!ignored.isEmpty()) {
                LOG.fine(() -> dir + ": ignoring " + ignored.size() + " tensors the decoder does not use, e.g. " + ignored.get(0));
            }
        } catch (RuntimeException e) {
            tensors.values().forEach(Tensor::close);
            mapped.close();
            throw e;
        } finally {
            open.values().forEach(SafeTensorsFile::close);
        }
        return LlamaWeights.of(config, tensors, mapped);
    }

    /** Which file holds each tensor: the shard index if present, else the single file ({@link CheckpointFiles}). */
    static Map<String, Path> locate(Path dir) {
        return CheckpointFiles.locate(dir);
    }

    /**
     * A matrix: a view over the mapped bytes in the file's dtype ({@code mapped} keeps them mapped). A
     * vector (norm, bias): a float32 copy.
     */
    private static Tensor toTensor(SafeTensorsFile st, SafeTensorsFile.TensorInfo info, MappedRegions mapped) {
        ByteBuffer bytes = mapped.add(st.map(info.name()));
        torch.ScalarType type = switch (info.dtype()) {
            case F32 -> torch.ScalarType.Float;
            case F16 -> torch.ScalarType.Half;
            case BF16 -> torch.ScalarType.BFloat16;
        };
        try (BytePointer p = new BytePointer(bytes)) {
            TensorOptions opts = new TensorOptions().dtype(new ScalarTypeOptional(type));
            Tensor view = torch.from_blob(p, info.shape(), opts);
            if (info.shape().length >= 2) {
                return view;
            }
            Tensor out = info.dtype() == DType.F32 ? view.clone() : view.to(torch.ScalarType.Float);
            view.close();
            return out;
        }
    }

    /** Writes config.json and model.safetensors (float32 or rounded to {@code dtype}). */
    public static void save(Path dir, LlamaWeights weights, DType dtype) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + dir, e);
        }
        weights.config.write(dir.resolve("config.json"));
        SafeTensorsWriter w = new SafeTensorsWriter().metadata("format", "pt");
        for (Map.Entry<String, Tensor> e : weights.named().entrySet()) {
            Tensor t = e.getValue().detach().to(torch.ScalarType.Float);
            w.add(e.getKey(), Tensors.toFloats(t), Tensors.shape(t), dtype);
        }
        w.write(dir.resolve(SINGLE));
    }
}

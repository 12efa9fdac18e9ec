package io.tierkv.model.io;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tierkv.core.DType;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One safetensors file, validated on open and memory-mapped per tensor.
 *
 * <pre>
 *   | u64 LE header length N | N bytes JSON header (space padded) | data ...                     |
 *   header: { "name": {"dtype": "F32", "shape": [r, c], "data_offsets": [begin, end]}, ... }
 *   offsets are relative to the start of the data; [begin, end) must lie inside it, not overlap,
 *   and hold exactly numel * sizeof(dtype) bytes.
 * </pre>
 *
 * Every problem is an {@link IllegalArgumentException} naming the file, the tensor and what is wrong.
 */
public final class SafeTensorsFile implements AutoCloseable {
    /** Headers larger than this are refused (the format's own reference limit is 100 MB). */
    static final long MAX_HEADER_BYTES = 100L * 1024 * 1024;
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path path;
    private final FileChannel channel;
    private final long dataStart;
    private final Map<String, TensorInfo> tensors;

    /** Where one tensor lies. */
    public record TensorInfo(String name, DType dtype, long[] shape, long begin, long end) {
        public long numel() {
            long n = 1;
            for (long s : shape) {
                n *= s;
            }
            return n;
        }
    }

    private SafeTensorsFile(Path path, FileChannel channel, long dataStart, Map<String, TensorInfo> tensors) {
        this.path = path;
        this.channel = channel;
        this.dataStart = dataStart;
        this.tensors = tensors;
    }

    /** Opens and validates a file; the file stays open until {@link #close()}. */
    public static SafeTensorsFile open(Path path) {
        FileChannel ch;
        try {
            ch = FileChannel.open(path, StandardOpenOption.READ);
        } catch (IOException e) {
            throw new UncheckedIOException(path + ": cannot open: " + e.getMessage(), e);
        }
        try {
            return read(path, ch);
        } catch (RuntimeException e) {
            closeQuietly(ch);
            throw e;
        }
    }

    private static SafeTensorsFile read(Path path, FileChannel ch) {
        try {
            long size = ch.size();
            if (size < 8) {
                throw bad(path, "file is " + size + " bytes, too short for the 8-byte header length");
            }
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, len, 0);
            long n = len.flip().getLong();
            if (n < 2 || n > MAX_HEADER_BYTES) {
                throw bad(path, "header length " + n + " is outside [2, " + MAX_HEADER_BYTES + "] (corrupt or not a safetensors file)");
            }
            if (8 + n > size) {
                throw bad(path, "header length " + n + " runs past the end of the file (" + size + " bytes): truncated");
            }
            ByteBuffer header = ByteBuffer.allocate((int) n);
            readFully(ch, header, 8);
            String text = new String(header.array(), StandardCharsets.UTF_8);
            JsonNode root;
            try {
                root = JSON.readTree(text);
            } catch (JsonProcessingException e) {
                throw bad(path, "header is not valid JSON: " + e.getOriginalMessage());
            }
            if (root == null || !root.isObject()) {
                throw bad(path, "header is not a JSON object");
            }
            long dataSize = size - 8 - n;
            Map<String, TensorInfo> tensors = parseEntries(path, root, dataSize);
            return new SafeTensorsFile(path, ch, 8 + n, tensors);
        } catch (IOException e) {
            throw new UncheckedIOException(path + ": " + e.getMessage(), e);
        }
    }

    private static Map<String, TensorInfo> parseEntries(Path path, JsonNode root, long dataSize) {
        Map<String, TensorInfo> tensors = new LinkedHashMap<>();
        Iterator<Map.Entry<String, JsonNode>> it = root.fields();
        while (it.hasNext()) {
            Map.Entry<String, JsonNode> e = it.next();
            String name = e.getKey();
            if (name.equals("__metadata__")) {
                continue;
            }
            JsonNode t = e.getValue();
            DType dtype = dtype(path, name, t.path("dtype").asText(null));
            JsonNode shapeNode = t.get("shape");
            JsonNode offs = t.get("data_offsets");
            if (shapeNode == null || !shapeNode.isArray()) {
                throw bad(path, "tensor '" + name + "' has no shape array");
            }
            if (offs == null || !offs.isArray() || offs.size() != 2 || !offs.get(0).canConvertToLong() || !offs.get(1).canConvertToLong()) {
                throw bad(path, "tensor '" + name + "' has no [begin, end] data_offsets");
            }
            long[] shape = new long[shapeNode.size()];
            long numel = 1;
            for (int i = 0; i < shape.length; i++) {
                if (!shapeNode.get(i).canConvertToLong() || shapeNode.get(i).asLong() < 0) {
                    throw bad(path, "tensor '" + name + "' has an invalid dimension " + shapeNode.get(i));
                }
                shape[i] = shapeNode.get(i).asLong();
                numel = Math.multiplyExact(numel, shape[i]);
            }
            long begin = offs.get(0).asLong();
            long end = offs.get(1).asLong();
            if (begin < 0 || end < begin || end > dataSize) {
                throw bad(path, "tensor '" + name + "' has data_offsets [" + begin + ", " + end + "] outside the data section of "
                        + dataSize + " bytes");
            }
            if (end - begin != numel * dtype.bytes()) {
                throw bad(path, "tensor '" + name + "' of shape " + java.util.Arrays.toString(shape) + " and dtype " + dtype
                        + " needs " + numel * dtype.bytes() + " bytes but its offsets span " + (end - begin));
            }
            tensors.put(name, new TensorInfo(name, dtype, shape, begin, end));
        }
        checkOverlaps(path, tensors);
        return Collections.unmodifiableMap(tensors);
    }

    private static void checkOverlaps(Path path, Map<String, TensorInfo> tensors) {
        List<TensorInfo> sorted = new ArrayList<>(tensors.values());
        sorted.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end));
        for (int i = 1; i < sorted.size(); i++) {
            TensorInfo a = sorted.get(i - 1);
            TensorInfo b = sorted.get(i);
            if (b.begin() < a.end() && b.end() > b.begin()) {
                throw bad(path, "tensors '" + a.name() + "' and '" + b.name() + "' overlap in the data section");
            }
        }
    }

    private static DType dtype(Path path, String name, String s) {
        if (s == null) {
            throw bad(path, "tensor '" + name + "' has no dtype");
        }
        return switch (s) {
            case "F32" -> DType.F32;
            case "F16" -> DType.F16;
            case "BF16" -> DType.BF16;
            default -> throw bad(path, "tensor '" + name + "' has dtype " + s + "; supported: F32, F16, BF16");
        };
    }

    public Path path() {
        return path;
    }

    /** Tensor entries in header order. */
    public Map<String, TensorInfo> tensors() {
        return tensors;
    }

    /**
     * Maps one tensor's bytes (read-only, little-endian). The mapping outlives {@link #close()}; the
     * garbage collector unmaps it, or {@link MappedRegions#close()} at once.
     */
    public MappedByteBuffer map(String name) {
        TensorInfo t = tensors.get(name);
        if (t == null) {
            throw new IllegalArgumentException(path + ": no tensor '" + name + "'");
        }
        if (t.end() - t.begin() > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(path + ": tensor '" + name + "' holds " + (t.end() - t.begin())
                    + " bytes; tensors of 2 GiB or more cannot be mapped yet");
        }
        try {
            MappedByteBuffer b = channel.map(FileChannel.MapMode.READ_ONLY, dataStart + t.begin(), t.end() - t.begin());
            b.order(ByteOrder.LITTLE_ENDIAN);
            return b;
        } catch (IOException e) {
            throw new UncheckedIOException(path + ": cannot map tensor '" + name + "': " + e.getMessage(), e);
        }
    }

    /** One tensor as float32 values (converted from F16/BF16). */
    public float[] readFloats(String name) {
        TensorInfo t = tensors.get(name);
        ByteBuffer b = map(name);
        float[] out = new float[Math.toIntExact(t.numel())];
        switch (t.dtype()) {
            case F32 -> b.asFloatBuffer().get(out);
            case BF16 -> {
                for (int i = 0; i < out.length; i++) {
                    out[i] = Half.fromBf16(b.getShort(2 * i));
                }
            }
            case F16 -> {
                for (int i = 0; i < out.length; i++) {
                    out[i] = Half.fromF16(b.getShort(2 * i));
                }
            }
            default -> throw new IllegalStateException();
        }
        return out;
    }

    @Override
    public void close() {
        closeQuietly(channel);
    }

    private static void readFully(FileChannel ch, ByteBuffer b, long position) throws IOException {
        long pos = position;
        while (b.hasRemaining()) {
            int n = ch.read(b, pos);
            if (n < 0) {
                throw new IOException("unexpected end of file at byte " + pos);
            }
            pos += n;
        }
    }

    private static void closeQuietly(FileChannel ch) {
        try {
            ch.close();
        } catch (IOException ignored) {
            // closing a read-only channel: nothing to lose
        }
    }

    private static IllegalArgumentException bad(Path path, String what) {
        return new IllegalArgumentException(path + ": " + what);
    }
}

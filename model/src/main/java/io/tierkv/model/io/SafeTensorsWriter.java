package io.tierkv.model.io;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tierkv.core.DType;
import io.tierkv.core.io.AtomicFiles;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Writes tensors in the safetensors format: an 8-byte little-endian header length, a JSON header
 * padded with spaces to a multiple of 8, then the raw little-endian data of each tensor in header order.
 * Writes to a temporary file and moves it into place, so that a failed write never leaves a broken file.
 */
public final class SafeTensorsWriter {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Map<String, Entry> entries = new LinkedHashMap<>();
    private final Map<String, String> metadata = new LinkedHashMap<>();

    private record Entry(String dtype, long[] shape, byte[] data) {
    }

    /** Adds a float32 tensor, stored as {@code dtype} (F32, or rounded to BF16/F16). */
    public SafeTensorsWriter add(String name, float[] values, long[] shape, DType dtype) {
        check(name, shape, values.length);
        ByteBuffer b = ByteBuffer.allocate(values.length * dtype.bytes()).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            switch (dtype) {
                case F32 -> b.putFloat(v);
                case BF16 -> b.putShort(Half.toBf16(v));
                case F16 -> b.putShort(Half.toF16(v));
                default -> throw new IllegalStateException();
            }
        }
        return put(name, dtype.safetensorsName(), shape, b.array());
    }

    /** Adds an int16 tensor (safetensors {@code I16}). */
    public SafeTensorsWriter addI16(String name, short[] values, long[] shape) {
        check(name, shape, values.length);
        ByteBuffer b = ByteBuffer.allocate(values.length * 2).order(ByteOrder.LITTLE_ENDIAN);
        b.asShortBuffer().put(values);
        return put(name, "I16", shape, b.array());
    }

    /** Adds an int64 tensor (safetensors {@code I64}). */
    public SafeTensorsWriter addI64(String name, long[] values, long[] shape) {
        check(name, shape, values.length);
        ByteBuffer b = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
        b.asLongBuffer().put(values);
        return put(name, "I64", shape, b.array());
    }

    /** Adds an unsigned byte tensor (safetensors {@code U8}). */
    public SafeTensorsWriter addU8(String name, byte[] values, long[] shape) {
        check(name, shape, values.length);
        return put(name, "U8", shape, values.clone());
    }

    private static void check(String name, long[] shape, int length) {
        long numel = 1;
        for (long s : shape) {
            numel *= s;
        }
        if (numel != length) {
            throw new IllegalArgumentException(name + ": shape holds " + numel + " elements, data has " + length);
        }
    }

    private SafeTensorsWriter put(String name, String dtype, long[] shape, byte[] data) {
        if (entries.put(name, new Entry(dtype, shape.clone(), data)) != null) {
            throw new IllegalArgumentException("tensor '" + name + "' added twice");
        }
        return this;
    }

    /** Adds raw bytes as they are (for tests that build odd files). */
    public SafeTensorsWriter addRaw(String name, DType dtype, long[] shape, byte[] data) {
        entries.put(name, new Entry(dtype.safetensorsName(), shape.clone(), data.clone()));
        return this;
    }

    public SafeTensorsWriter metadata(String key, String value) {
        metadata.put(key, value);
        return this;
    }

    /** Writes the file atomically. */
    public void write(Path file) {
        ObjectNode header = JSON.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode meta = header.putObject("__metadata__");
            metadata.forEach(meta::put);
        }
        long offset = 0;
        for (Map.Entry<String, Entry> e : entries.entrySet()) {
            ObjectNode t = header.putObject(e.getKey());
            t.put("dtype", e.getValue().dtype());
            var shape = t.putArray("shape");
            for (long s : e.getValue().shape()) {
                shape.add(s);
            }
            var offsets = t.putArray("data_offsets");
            offsets.add(offset);
            offset += e.getValue().data().length;
            offsets.add(offset);
        }
        byte[] json;
        try {
            json = JSON.writeValueAsBytes(header);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        int padded = (json.length + 7) / 8 * 8;
        byte[] head = new byte[padded];
        System.arraycopy(json, 0, head, 0, json.length);
        for (int i = json.length; i < padded; i++) {
            head[i] = ' ';
        }
        try { // a temporary file moved into place: a killed run leaves no half checkpoint under the final name
            AtomicFiles.write(file, out -> {
                out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(padded).array());
                out.write(head);
                for (Entry e : entries.values()) {
                    out.write(e.data());
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }
}

package io.tierkv.model.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tierkv.core.DType;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafeTensorsFileTest {
    @TempDir
    Path dir;

    @Test
    void roundTrip_f32Bf16F16_readBackWithinTheirPrecision() {
        float[] values = {1.0f, -2.5f, 3.14159f, 1e-3f, 65504f, -0.0f};
        Path file = dir.resolve("a.safetensors");
        new SafeTensorsWriter()
                .add("f32", values, new long[] {2, 3}, DType.F32)
                .add("bf16", values, new long[] {6}, DType.BF16)
                .add("f16", values, new long[] {3, 2}, DType.F16)
                .write(file);
        try (SafeTensorsFile st = SafeTensorsFile.open(file)) {
            assertEquals(3, st.tensors().size());
            assertArrayEquals(new long[] {2, 3}, st.tensors().get("f32").shape());
            assertArrayEquals(values, st.readFloats("f32"));
            float[] bf = st.readFloats("bf16");
            float[] h = st.readFloats("f16");
            for (int i = 0; i < values.length; i++) {
                assertEquals(values[i], bf[i], Math.abs(values[i]) * 0x1p-8 + 1e-30, "bf16 " + i);
                assertEquals(values[i], h[i], Math.abs(values[i]) * 0x1p-11 + 1e-7, "f16 " + i);
            }
        }
    }

    @Test
    void open_fileShorterThanHeaderLength_namesTheProblem() throws IOException {
        Path file = dir.resolve("short.safetensors");
        Files.write(file, new byte[] {1, 2, 3});
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SafeTensorsFile.open(file));
        assertTrue(e.getMessage().contains("too short"), e.getMessage());
        assertTrue(e.getMessage().contains("short.safetensors"), e.getMessage());
    }

    @Test
    void open_headerLengthPastEndOfFile_saysTruncated() throws IOException {
        Path file = dir.resolve("trunc.safetensors");
        Files.write(file, header(1000, "{}"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SafeTensorsFile.open(file));
        assertTrue(e.getMessage().contains("truncated"), e.getMessage());
    }

    @Test
    void open_hugeHeaderLength_isRefused() throws IOException {
        Path file = dir.resolve("huge.safetensors");
        Files.write(file, header(Long.MAX_VALUE / 2, "{}"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SafeTensorsFile.open(file));
        assertTrue(e.getMessage().contains("header length"), e.getMessage());
    }

    @Test
    void open_headerNotJson_saysSo() throws IOException {
        Path file = dir.resolve("nojson.safetensors");
        String text = "{not json";
        Files.write(file, header(text.length(), text));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SafeTensorsFile.open(file));
        assertTrue(e.getMessage().contains("not valid JSON"), e.getMessage());
    }

    @Test
    void open_offsetsOutsideData_nameTheTensor() throws IOException {
        String json = "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}";
        Path file = dir.resolve("outside.safetensors");
        Files.write(file, concat(header(json.length(), json), new byte[8]));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SafeTensorsFile.open(file));
        assertTrue(e.getMessage().contains("'w'") && e.getMessage().contains("outside"), e.getMessage());
    }

    @Test
    void open_overlappingTensors_areRefused() throws IOException {
        String json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}";
        Path file = dir.resolve("overlap.safetensors");
        Files.write(file, concat(header(json.length(), json), new byte[12]));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SafeTensorsFile.open(file));
        assertTrue(e.getMessage().contains("overlap"), e.getMessage());
    }

    @Test
    void open_sizeDisagreesWithShape_namesBoth() throws IOException {
        String json = "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}";
        Path file = dir.resolve("size.safetensors");
        Files.write(file, concat(header(json.length(), json), new byte[8]));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SafeTensorsFile.open(file));
        assertTrue(e.getMessage().contains("needs 12 bytes"), e.getMessage());
    }

    @Test
    void open_unsupportedDtype_listsSupported() throws IOException {
        String json = "{\"w\":{\"dtype\":\"I8\",\"shape\":[8],\"data_offsets\":[0,8]}}";
        Path file = dir.resolve("dtype.safetensors");
        Files.write(file, concat(header(json.length(), json), new byte[8]));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SafeTensorsFile.open(file));
        assertTrue(e.getMessage().contains("I8") && e.getMessage().contains("BF16"), e.getMessage());
    }

    /** Issue 14: only neighbours were compared, so an empty tensor between two overlapping ones hid the overlap. */
    @Test
    void open_overlapHiddenByAZeroLengthTensor_isRefused() throws IOException {
        String json = "{\"embed\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                + "\"zero\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]},"
                + "\"norm\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}";
        Path file = dir.resolve("hidden.safetensors");
        Files.write(file, concat(header(json.length(), json), new byte[16]));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SafeTensorsFile.open(file));
        assertEquals(file + ": tensors 'embed' [0, 16) and 'norm' [4, 12) overlap in the data section", e.getMessage());
    }

    @Test
    void open_overlapWithAnEarlierLongTensor_notTheNeighbour_isRefused() throws IOException {
        String json = "{\"long\":{\"dtype\":\"F32\",\"shape\":[8],\"data_offsets\":[0,32]},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}";
        Path file = dir.resolve("reach.safetensors");
        Files.write(file, concat(header(json.length(), json), new byte[32]));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SafeTensorsFile.open(file));
        assertTrue(e.getMessage().contains("overlap"), e.getMessage());
    }

    @Test
    void open_adjacentAndEmptyTensors_areAccepted() throws IOException {
        String json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[2,2]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}";
        Path file = dir.resolve("adjacent.safetensors");
        Files.write(file, concat(header(json.length(), json), new byte[8]));
        try (SafeTensorsFile st = SafeTensorsFile.open(file)) {
            assertEquals(3, st.tensors().size());
        }
    }

    /** Issue 14: a shape whose element count overflows a long ended in an ArithmeticException stack trace. */
    @Test
    void open_shapeWhoseElementCountOverflows_namesTheTensor() throws IOException {
        String json = "{\"w\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,16]}}";
        Path file = dir.resolve("numel.safetensors");
        Files.write(file, concat(header(json.length(), json), new byte[16]));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SafeTensorsFile.open(file));
        assertEquals(file + ": tensor 'w' has shape [4611686018427387904, 4] whose size overflows a 64-bit byte count", e.getMessage());
    }

    /** Issue 14: numel fit a long but numel x bytes did not, and the product was not checked. */
    @Test
    void open_elementCountTimesDtypeBytesOverflow_namesTheTensor() throws IOException {
        String json = "{\"w\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904],\"data_offsets\":[0,0]}}";
        Path file = dir.resolve("bytes.safetensors");
        Files.write(file, concat(header(json.length(), json), new byte[16]));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SafeTensorsFile.open(file));
        assertTrue(e.getMessage().endsWith("whose size overflows a 64-bit byte count"), e.getMessage());
    }

    @Test
    void open_fractionalDimension_isRefused() throws IOException {
        String json = "{\"w\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}";
        Path file = dir.resolve("fraction.safetensors");
        Files.write(file, concat(header(json.length(), json), new byte[4]));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SafeTensorsFile.open(file));
        assertTrue(e.getMessage().contains("invalid dimension 1.5"), e.getMessage());
    }

    static byte[] header(long length, String json) {
        byte[] j = json.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + j.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(length).put(j);
        return b.array();
    }

    static byte[] concat(byte[] a, byte[] b) {
        byte[] out = new byte[a.length + b.length];
        System.arraycopy(a, 0, out, 0, a.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}

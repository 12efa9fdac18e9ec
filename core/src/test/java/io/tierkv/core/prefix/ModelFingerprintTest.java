package io.tierkv.core.prefix;

import io.tierkv.core.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ModelFingerprintTest {
    private static final int WEIGHT_BYTES = 4 << 20; // larger than the sampled windows together

    private static Path checkpoint(Path dir, long seed) throws IOException {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("config.json"), "{\"hidden_size\": 64, \"num_hidden_layers\": 2}");
        byte[] w = new byte[WEIGHT_BYTES];
        new Random(seed).nextBytes(w);
        Files.write(dir.resolve("model.safetensors"), w);
        Files.writeString(dir.resolve("tokenizer.json"), "{}");
        return dir;
    }

    private static void flipByte(Path file, long offset) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.seek(offset);
            int b = f.read();
            f.seek(offset);
            f.write(b ^ 0x5a);
        }
    }

    @Test
    void sameCheckpoint_sameFingerprint(@TempDir Path tmp) throws IOException {
        ModelFingerprint a = ModelFingerprint.of(checkpoint(tmp.resolve("a"), 1), DType.F32);
        ModelFingerprint b = ModelFingerprint.of(checkpoint(tmp.resolve("b"), 1), DType.F32);
        assertEquals(a, b);
        assertNotEquals(a, ModelFingerprint.of(tmp.resolve("a"), DType.BF16), "dtype is part of the fingerprint");
    }

    @Test
    void otherWeightsOfTheSameShape_otherFingerprint(@TempDir Path tmp) throws IOException {
        assertNotEquals(ModelFingerprint.of(checkpoint(tmp.resolve("a"), 1), DType.F32),
                ModelFingerprint.of(checkpoint(tmp.resolve("b"), 2), DType.F32));
    }

    @Test
    void changedConfig_otherFingerprint(@TempDir Path tmp) throws IOException {
        Path dir = checkpoint(tmp, 1);
        ModelFingerprint before = ModelFingerprint.of(dir, DType.F32);
        Files.writeString(dir.resolve("config.json"), "{\"hidden_size\": 64, \"num_hidden_layers\": 3}");
        assertNotEquals(before, ModelFingerprint.of(dir, DType.F32));
    }

    @Test
    void byteChangedInASampledWindow_otherFingerprint(@TempDir Path tmp) throws IOException {
        Path dir = checkpoint(tmp, 1);
        ModelFingerprint before = ModelFingerprint.of(dir, DType.F32);
        flipByte(dir.resolve("model.safetensors"), WEIGHT_BYTES - 1); // the last window always is sampled
        assertNotEquals(before, ModelFingerprint.of(dir, DType.F32));
    }

    @Test
    void byteChangedBetweenWindows_onlyTheFullModeSeesIt(@TempDir Path tmp) throws IOException {
        Path dir = checkpoint(tmp, 1);
        ModelFingerprint sampled = ModelFingerprint.of(dir, DType.F32);
        ModelFingerprint full = ModelFingerprint.of(dir, DType.F32, ModelFingerprint.Mode.FULL);
        // Window 0 covers [0, 64 KiB), window 1 starts at (size - 64 KiB) / 15, about 270 KiB.
        long between = 128 * 1024;
        assertTrue(between > ModelFingerprint.WINDOW_BYTES
                && between < (WEIGHT_BYTES - ModelFingerprint.WINDOW_BYTES) / (ModelFingerprint.SAMPLES - 1));
        flipByte(dir.resolve("model.safetensors"), between);
        assertEquals(sampled, ModelFingerprint.of(dir, DType.F32), "the documented limit of sampling");
        assertNotEquals(full, ModelFingerprint.of(dir, DType.F32, ModelFingerprint.Mode.FULL));
    }

    @Test
    void directoryWithoutConfig_isAnIoError(@TempDir Path tmp) {
        IOException e = assertThrows(IOException.class, () -> ModelFingerprint.of(tmp, DType.F32));
        assertTrue(e.getMessage().contains("config.json"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> ModelFingerprint.ofDescription(" ", DType.F32));
    }
}

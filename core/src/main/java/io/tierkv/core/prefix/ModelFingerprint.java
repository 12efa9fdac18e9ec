package io.tierkv.core.prefix;

import io.tierkv.core.DType;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;

/**
 * What identifies a model's KV numbers: a SHA-256 digest over the checkpoint's {@code config.json}, the
 * name, size and content samples of every {@code *.safetensors} file, and the dtype the model runs in.
 *
 * <p>Config and sizes alone would let two fine-tunes of one base model (same shapes, other weights) share
 * KV blocks, which would be wrong data, so the digest also reads {@value #SAMPLES} windows of
 * {@value #WINDOW_BYTES} bytes spread evenly over each weight file (the first one holds the safetensors
 * header: tensor names, dtypes, offsets). Weights that differ anywhere but in the unread bytes of every file
 * (a fine-tune changes nearly all of them) get another fingerprint. {@link Mode#FULL} hashes every byte for
 * those who prefer certainty over the read (about 2 s per GB).
 */
public final class ModelFingerprint {
    /** How much of the weights the digest reads. */
    public enum Mode {
        /** {@value #SAMPLES} windows of {@value #WINDOW_BYTES} bytes per weight file (about 1 MiB each). */
        SAMPLED,
        /** Every byte of every weight file. */
        FULL
    }

    static final int SAMPLES = 16;
    static final int WINDOW_BYTES = 64 * 1024;

    private final byte[] digest; // (32) SHA-256

    private ModelFingerprint(byte[] digest) {
        this.digest = digest;
    }

    /** The fingerprint of the Hugging Face checkpoint in {@code modelDir} run in {@code dtype}, sampled. */
    public static ModelFingerprint of(Path modelDir, DType dtype) throws IOException {
        return of(modelDir, dtype, Mode.SAMPLED);
    }

    /**
     * The fingerprint of the checkpoint in {@code modelDir} run in {@code dtype}.
     *
     * @throws IOException when the directory has no {@code config.json} or cannot be read
     */
    public static ModelFingerprint of(Path modelDir, DType dtype, Mode mode) throws IOException {
        Path config = modelDir.resolve("config.json");
        if (!Files.isRegularFile(config)) {
            throw new IOException("no config.json in model directory " + modelDir);
        }
        MessageDigest md = Sha256.newDigest();
        update(md, "tierkv-model-fingerprint-v1");
        update(md, "dtype=" + dtype.name());
        byte[] configBytes = Files.readAllBytes(config);
        update(md, "config.json:" + configBytes.length);
        md.update(configBytes);
        for (Path weights : weightFiles(modelDir)) {
            long size = Files.size(weights);
            update(md, weights.getFileName() + ":" + size);
            hashContent(md, weights, size, mode);
        }
        return new ModelFingerprint(md.digest());
    }

    /**
     * A fingerprint for a model that has no directory (random weights made from a seed, tests): the
     * description must name everything that determines the weights, for example {@code "random-llama seed=7
     * layers=12 dim=768"}.
     */
    public static ModelFingerprint ofDescription(String description, DType dtype) {
        if (description == null || description.isBlank()) {
            throw new IllegalArgumentException("a model description must not be blank");
        }
        MessageDigest md = Sha256.newDigest();
        update(md, "tierkv-model-description-v1");
        update(md, "dtype=" + dtype.name());
        update(md, description);
        return new ModelFingerprint(md.digest());
    }

    /** A copy of the 32 digest bytes. */
    public byte[] digest() {
        return digest.clone();
    }

    /** The digest in hex. */
    public String hex() {
        return HexFormat.of().formatHex(digest);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ModelFingerprint other && MessageDigest.isEqual(digest, other.digest);
    }

    @Override
    public int hashCode() {
        return hex().hashCode();
    }

    @Override
    public String toString() {
        return "ModelFingerprint[" + hex().substring(0, 16) + "]";
    }

    private static List<Path> weightFiles(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            List<Path> out = new ArrayList<>(files
                    .filter(p -> p.getFileName().toString().endsWith(".safetensors") && Files.isRegularFile(p))
                    .sorted()
                    .toList());
            return out;
        }
    }

    private static void hashContent(MessageDigest md, Path file, long size, Mode mode) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer buf = ByteBuffer.allocate(WINDOW_BYTES);
            if (mode == Mode.FULL || size <= (long) SAMPLES * WINDOW_BYTES) {
                for (long pos = 0; pos < size; pos += WINDOW_BYTES) {
                    readWindow(ch, buf, pos, md);
                }
                return;
            }
            long last = size - WINDOW_BYTES;
            for (int i = 0; i < SAMPLES; i++) {
                readWindow(ch, buf, last * i / (SAMPLES - 1), md);
            }
        }
    }

    private static void readWindow(FileChannel ch, ByteBuffer buf, long pos, MessageDigest md) throws IOException {
        buf.clear();
        long p = pos;
        while (buf.hasRemaining()) {
            int n = ch.read(buf, p);
            if (n < 0) {
                break;
            }
            p += n;
        }
        buf.flip();
        md.update(buf);
    }

    private static void update(MessageDigest md, String text) {
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        md.update(Sha256.intLe(b.length));
        md.update(b);
    }
}

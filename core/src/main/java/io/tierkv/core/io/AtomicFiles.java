package io.tierkv.core.io;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.SecureRandom;

/**
 * Writes a file so that a killed run never leaves a half-written file under its final name: the bytes go
 * to a temporary file beside it ({@code .name.<random>.tmp}, same directory, hence same file system), which
 * is moved over the final name only once complete (atomically where the file system can). On any failure
 * the temporary file is deleted and the final name is left as it was.
 */
public final class AtomicFiles {
    private static final SecureRandom RANDOM = new SecureRandom();

    private AtomicFiles() {
    }

    /** The body of a write: fills {@code out}; {@link AtomicFiles} closes it. */
    @FunctionalInterface
    public interface Body {
        void write(OutputStream out) throws IOException;
    }

    /** Writes {@code file} through {@code body}, creating its directory; the file appears whole or not at all. */
    public static void write(Path file, Body body) throws IOException {
        Path tmp = temporary(file);
        try {
            try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(tmp))) {
                body.write(out);
            }
            commit(tmp, file);
        } catch (IOException | RuntimeException | Error e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
    }

    /** Writes {@code bytes} to {@code file}, whole or not at all. */
    public static void write(Path file, byte[] bytes) throws IOException {
        write(file, out -> out.write(bytes));
    }

    /**
     * Creates the directory of {@code file} and an empty temporary file beside it, for a writer that streams
     * into it and calls {@link #commit} when done (or deletes it on failure).
     */
    public static Path temporary(Path file) throws IOException {
        Path abs = file.toAbsolutePath();
        Path dir = abs.getParent();
        Files.createDirectories(dir);
        // Files.createFile, not createTempFile: the result gets the umask's permissions (0644), not 0600.
        for (int attempt = 0; ; attempt++) {
            Path tmp = dir.resolve("." + abs.getFileName() + "." + Long.toHexString(RANDOM.nextLong()) + ".tmp");
            try {
                return Files.createFile(tmp);
            } catch (FileAlreadyExistsException e) {
                if (attempt >= 16) {
                    throw e;
                }
            }
        }
    }

    /** Moves a finished temporary file over {@code file}. */
    public static void commit(Path tmp, Path file) throws IOException {
        try {
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
        }
    }
}

package io.tierkv.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** The {@code --out DIR} option every measuring subcommand shares. */
public final class OutputOption {
    @Option(names = "--out", paramLabel = "DIR", description = "Directory for the JSON/CSV/PNG results (default: out/<command>).")
    Path out;

    /** The directory, or {@code fallback} under the current directory when not given. */
    public Path dir(String fallback) {
        return out != null ? out : Path.of("out", fallback);
    }

    /**
     * The directory, created and proven writable, before any work starts: a run that cannot save its results
     * fails in its first second, not after it has done its work.
     */
    public Path prepare(String fallback) {
        return writableDirectory("--out", dir(fallback));
    }

    /** Creates {@code dir} and checks that a file can be created in it; a one-line error naming {@code option} if not. */
    static Path writableDirectory(String option, Path dir) {
        if (Files.exists(dir) && !Files.isDirectory(dir)) {
            throw new IllegalArgumentException(option + " " + dir + ": exists and is not a directory");
        }
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new IllegalArgumentException(option + " " + dir + ": cannot create the directory (" + CliErrors.userMessage(e) + ")");
        }
        try {
            Path probe = Files.createTempFile(dir, ".tierkv-write-check", ".tmp");
            Files.delete(probe);
        } catch (IOException e) {
            throw new IllegalArgumentException(option + " " + dir + ": the directory is not writable (" + CliErrors.userMessage(e) + ")");
        }
        return dir;
    }

    /** Checks that {@code file} can be written: its directory is created and writable, and it is not a directory itself. */
    static Path writableFile(String option, Path file) {
        if (Files.isDirectory(file)) {
            throw new IllegalArgumentException(option + " " + file + ": is a directory, a file name is expected");
        }
        Path parent = file.toAbsolutePath().getParent();
        writableDirectory(option, parent);
        return file;
    }
}

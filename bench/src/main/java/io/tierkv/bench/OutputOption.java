package io.tierkv.bench;

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
}

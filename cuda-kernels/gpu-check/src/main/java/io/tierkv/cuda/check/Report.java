package io.tierkv.cuda.check;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** Lines appended to one file (and printed) as they come, so a check cut short keeps the lines it reached. */
final class Report {
    private final Path file;
    private final boolean print;

    /** A report printed as well as written. */
    Report(Path file) {
        this(file, true);
    }

    /** Truncates {@code file}; its lines go to stdout too when {@code print}. */
    Report(Path file, boolean print) {
        this.file = file;
        this.print = print;
        try {
            Files.writeString(file, "");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }

    void line(String line) {
        if (print) {
            System.out.println(line);
        }
        try {
            Files.writeString(file, line + System.lineSeparator(), StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot append to " + file, e);
        }
    }
}

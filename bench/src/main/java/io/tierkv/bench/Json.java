package io.tierkv.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.UncheckedIOException;
import io.tierkv.core.io.AtomicFiles;
import java.nio.file.Path;

/** Writes any Jackson-serialisable value as pretty JSON, creating the directory, under a temporary name moved into place. */
final class Json {
    private static final ObjectMapper MAPPER = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private Json() {
    }

    static void write(Path file, Object value) {
        try {
            AtomicFiles.write(file, MAPPER.writeValueAsBytes(value)); // whole or not at all: a killed run leaves no half file
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }
}

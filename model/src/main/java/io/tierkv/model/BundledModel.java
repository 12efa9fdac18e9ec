package io.tierkv.model;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;

/**
 * The small Llama-architecture model that TierKV trains on its reading-comprehension suite and ships in
 * this jar (Hugging Face layout, under {@code /io/tierkv/model/bundled/}). It is copied to a directory on
 * first use and loaded from there by the same code as any checkpoint.
 */
public final class BundledModel {
    /** Where the files live in the jar, and where {@code tierkv train} writes them in a source checkout. */
    public static final String RESOURCE_DIR = "/io/tierkv/model/bundled/";
    public static final String SOURCE_DIR = "model/src/main/resources/io/tierkv/model/bundled";
    static final List<String> FILES = List.of("config.json", "model.safetensors", "tokenizer.json");

    private static Path extracted;

    private BundledModel() {
    }

    /** True if this build carries the bundled model. */
    public static boolean present() {
        return BundledModel.class.getResource(RESOURCE_DIR + "model.safetensors") != null;
    }

    /** A directory holding the bundled model, extracted once per process. */
    public static synchronized Path directory() {
        if (extracted != null) {
            return extracted;
        }
        if (!present()) {
            throw new IllegalStateException("this build has no bundled model; train one with `tierkv train --out " + SOURCE_DIR
                    + "` and rebuild, or pass --model DIR");
        }
        try {
            Path dir = Files.createTempDirectory("tierkv-bundled-");
            // Deleted at exit in the reverse order of registration: the directory first here, so that it goes last, empty.
            dir.toFile().deleteOnExit();
            for (String f : FILES) {
                try (InputStream in = BundledModel.class.getResourceAsStream(RESOURCE_DIR + f)) {
                    if (in == null) {
                        throw new IllegalStateException("the bundled model lacks " + f);
                    }
                    Files.copy(in, dir.resolve(f), StandardCopyOption.REPLACE_EXISTING);
                }
                dir.resolve(f).toFile().deleteOnExit();
            }
            extracted = dir;
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot extract the bundled model: " + e.getMessage(), e);
        }
    }

    /** {@code dir} if given, else the bundled model's directory. */
    public static Path orDefault(Path dir) {
        return dir != null ? dir : directory();
    }
}

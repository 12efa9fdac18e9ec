package io.tierkv.model.llama;

import io.tierkv.core.DType;
import io.tierkv.model.io.SafeTensorsWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A checkpoint directory of random weights for a config ({@code config.json} and one {@code model.safetensors}), written
 * without libtorch: for decode benchmarks of model shapes that are not at hand (the GPU check, {@code bench decode}).
 * Projections, embeddings and biases are uniform in {@code [-0.035, 0.035]} (std 0.02), norms are ones; seeded.
 */
public final class RandomCheckpoint {
    private RandomCheckpoint() {
    }

    /** Writes {@code config}'s tensors in {@code dtype} to {@code dir} (created if absent); returns {@code dir}. */
    public static Path write(Path dir, LlamaConfig config, DType dtype, long seed) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + dir + ": " + e.getMessage(), e);
        }
        SplittableRandom random = new SplittableRandom(seed);
        SafeTensorsWriter out = new SafeTensorsWriter();
        double half = 0.02 * Math.sqrt(3);
        for (Map.Entry<String, long[]> e : CheckpointFiles.expectedShapes(config).entrySet()) {
            long n = 1;
            for (long s : e.getValue()) {
                n = Math.multiplyExact(n, s);
            }
            if (n > Integer.MAX_VALUE - 8) {
                throw new IllegalArgumentException("tensor '" + e.getKey() + "' has " + n + " elements, more than one array holds");
            }
            float[] values = new float[(int) n];
            if (e.getKey().endsWith("norm.weight")) {
                java.util.Arrays.fill(values, 1f);
            } else {
                for (int i = 0; i < values.length; i++) {
                    values[i] = (float) ((random.nextDouble() * 2 - 1) * half);
                }
            }
            boolean vector = e.getValue().length == 1;
            out.add(e.getKey(), values, e.getValue(), vector ? DType.F32 : dtype);
        }
        config.write(dir.resolve("config.json"));
        out.write(dir.resolve(CheckpointFiles.SINGLE));
        return dir;
    }
}

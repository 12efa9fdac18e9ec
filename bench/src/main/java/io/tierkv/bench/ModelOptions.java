package io.tierkv.bench;

import io.tierkv.model.BundledModel;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** Options shared by the commands that run a model. */
final class ModelOptions {
    @Option(names = "--model", paramLabel = "DIR", description = "A Hugging Face Llama model directory (default: the bundled model).")
    Path model;

    @Option(names = "--block-size", defaultValue = "16", description = "Tokens per KV block (default: ${DEFAULT-VALUE}).")
    int blockSize;

    @Option(names = "--backend", defaultValue = "cpu",
            description = "cpu, or cuda for the GPU tiers (needs libtorch's CUDA natives for the math; see the README).")
    String backend;

    Path modelDir() {
        return BundledModel.orDefault(model);
    }

    void requireCpuMath() {
        if (!backend.equalsIgnoreCase("cpu")) {
            throw new IllegalArgumentException("--backend " + backend + ": the model's math runs on libtorch's CPU build in this"
                    + " distribution; the CUDA tiers are exercised by the GPU check (see README, 'On an NVIDIA box')");
        }
    }
}

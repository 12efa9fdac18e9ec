package io.tierkv.bench;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code tierkv train}: Train the bundled Llama-architecture model on the reading-comprehension suite. */
@Command(name = "train", mixinStandardHelpOptions = true, description = "Train the bundled Llama-architecture model on the reading-comprehension suite.")
final class TrainCommand implements Callable<Integer> {
    @Mixin
    OutputOption output;

    @Override
    public Integer call() {
        throw new IllegalStateException("'train' is not implemented yet");
    }
}

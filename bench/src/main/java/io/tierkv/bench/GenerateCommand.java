package io.tierkv.bench;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code tierkv generate}: Stream a completion from a checkpoint with a KV policy and tiering in the loop. */
@Command(name = "generate", mixinStandardHelpOptions = true, description = "Stream a completion from a checkpoint with a KV policy and tiering in the loop.")
final class GenerateCommand implements Callable<Integer> {
    @Mixin
    OutputOption output;

    @Override
    public Integer call() {
        throw new IllegalStateException("'generate' is not implemented yet");
    }
}

package io.tierkv.bench;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code tierkv demo}: Run a small version of the paper's experiment on the bundled model (CPU, a few minutes). */
@Command(name = "demo", mixinStandardHelpOptions = true, description = "Run a small version of the paper's experiment on the bundled model (CPU, a few minutes).")
final class DemoCommand implements Callable<Integer> {
    @Mixin
    OutputOption output;

    @Override
    public Integer call() {
        throw new IllegalStateException("'demo' is not implemented yet");
    }
}

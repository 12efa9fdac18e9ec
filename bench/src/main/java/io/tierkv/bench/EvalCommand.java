package io.tierkv.bench;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code tierkv eval}: The paper's experiment: every policy on the reading-comprehension suite. */
@Command(name = "eval", mixinStandardHelpOptions = true, description = "The paper's experiment: every policy on the reading-comprehension suite.")
final class EvalCommand implements Callable<Integer> {
    @Mixin
    OutputOption output;

    @Override
    public Integer call() {
        throw new IllegalStateException("'eval' is not implemented yet");
    }
}

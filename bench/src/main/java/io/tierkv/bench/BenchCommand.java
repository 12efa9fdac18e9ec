package io.tierkv.bench;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code tierkv bench}: live benchmarks of the copy engine and the popularity counter. */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Benchmarks: the copy engine against memcpy, the popularity counter against a sum and libtorch.",
        subcommands = {BenchCommand.Copy.class, BenchPopularityCommand.class})
final class BenchCommand implements Runnable {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    @Command(name = "copy", mixinStandardHelpOptions = true, description = "Move blocks through the copy engine; compare with memcpy.")
    static final class Copy implements Callable<Integer> {
        @Mixin
        OutputOption output;

        @Override
        public Integer call() {
            throw new IllegalStateException("'bench copy' is not implemented yet");
        }
    }
}

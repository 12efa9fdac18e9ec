package io.tierkv.bench;

import picocli.CommandLine.Command;

/** {@code tierkv bench}: live benchmarks of the copy engine and the popularity counter. */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Benchmarks: copy engine vs memcpy, popularity counter vs a sum and libtorch, decode speed, the remote tier.",
        subcommands = {BenchCopyCommand.class, BenchPopularityCommand.class, BenchDecodeCommand.class, BenchRemoteCommand.class})
final class BenchCommand implements Runnable {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }
}

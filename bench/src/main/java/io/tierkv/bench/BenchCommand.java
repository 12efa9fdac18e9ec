package io.tierkv.bench;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** {@code tierkv bench}: live benchmarks of the copy engine and the popularity counter. */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Benchmarks: copy engine vs memcpy, popularity counter vs a sum and libtorch, decode speed, the remote tier.",
        subcommands = {BenchCopyCommand.class, BenchPopularityCommand.class, BenchDecodeCommand.class, BenchRemoteCommand.class})
final class BenchCommand implements Callable<Integer> {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    /** Without a subcommand: usage on stderr, exit code 2. */
    @Override
    public Integer call() {
        return TierKv.missingSubcommand(spec);
    }
}

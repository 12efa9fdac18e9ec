package io.tierkv.bench;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code tierkv trace}: record traces of top-k positions from the model, or synthesize them. */
@Command(name = "trace", mixinStandardHelpOptions = true,
        description = "Record top-k attention traces from a model, or generate synthetic ones.",
        subcommands = {TraceCommand.Record.class, TraceCommand.Synth.class})
final class TraceCommand implements Runnable {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    @Command(name = "record", mixinStandardHelpOptions = true, description = "Record a trace while the model generates.")
    static final class Record implements Callable<Integer> {
        @Mixin
        OutputOption output;

        @Override
        public Integer call() {
            throw new IllegalStateException("'trace record' is not implemented yet");
        }
    }

    @Command(name = "synth", mixinStandardHelpOptions = true, description = "Generate a seeded synthetic trace.")
    static final class Synth implements Callable<Integer> {
        @Mixin
        OutputOption output;

        @Override
        public Integer call() {
            throw new IllegalStateException("'trace synth' is not implemented yet");
        }
    }
}

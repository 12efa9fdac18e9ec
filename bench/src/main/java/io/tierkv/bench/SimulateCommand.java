package io.tierkv.bench;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code tierkv simulate}: Replay a trace through cache policies at device budgets, with the offline optimum. */
@Command(name = "simulate", mixinStandardHelpOptions = true, description = "Replay a trace through cache policies at device budgets, with the offline optimum.")
final class SimulateCommand implements Callable<Integer> {
    @Mixin
    OutputOption output;

    @Override
    public Integer call() {
        throw new IllegalStateException("'simulate' is not implemented yet");
    }
}

package io.tierkv.bench;

import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code tierkv help [COMMAND...]}: the usage of any command, nested ones included ({@code help trace synth}
 * shows {@code trace synth}'s, where picocli's own help command stops at {@code trace}).
 */
@Command(name = "help", helpCommand = true, description = "Show the usage of a command: tierkv help trace synth.")
final class HelpCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "COMMAND", arity = "0..*", description = "The command, with its subcommands (trace synth).")
    List<String> path = List.of();

    @Override
    public Integer call() {
        CommandLine c = spec.root().commandLine();
        StringBuilder name = new StringBuilder("tierkv");
        for (String part : path) {
            CommandLine sub = c.getSubcommands().get(part);
            if (sub == null || sub.getCommandSpec().helpCommand()) {
                throw new IllegalArgumentException("no command '" + name + " " + part + "'; "
                        + (c.getSubcommands().isEmpty() ? "'" + name + "' has no subcommands"
                        : "known: " + String.join(", ", TierKv.visibleSubcommands(c))));
            }
            c = sub;
            name.append(' ').append(part);
        }
        c.usage(spec.commandLine().getOut());
        return 0;
    }
}

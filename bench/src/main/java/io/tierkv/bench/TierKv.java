package io.tierkv.bench;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code tierkv}: the command line of TierKV. Every subcommand that measures something takes
 * {@code --out DIR} and writes its figures there as JSON (and CSV where tabular).
 *
 * <p>Exit codes: 0 success; 2 a user's error (a bad option value, a missing or corrupt input, an output
 * that cannot be written, a group such as {@code trace} given without its subcommand), reported as one
 * line {@code tierkv: ...} on stderr with no stack trace ({@code -Dtierkv.debug=true} adds it); 1 a bug,
 * with its stack trace. Options are checked before any work starts.
 */
@Command(name = "tierkv",
        mixinStandardHelpOptions = true,
        versionProvider = VersionProvider.class,
        description = "A GPU/CPU tiered KV-cache memory manager with the hierarchical popularity policy.",
        subcommands = {
            DemoCommand.class,
            GenerateCommand.class,
            EvalCommand.class,
            TrainCommand.class,
            TraceCommand.class,
            SimulateCommand.class,
            HostReadCurveCommand.class,
            BenchCommand.class,
            InfoCommand.class,
            HelpCommand.class
        })
public final class TierKv implements Callable<Integer> {
    /** Columns of the usage help: wide enough that most option descriptions fit on one or two lines. */
    static final int HELP_WIDTH = 100;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        // Temporaries are freed per step (PointerScope), so JavaCPP's check of the process's resident size on
        // every native allocation is pure cost (a /proc read; a fifth of a small model's decode step).
        if (System.getProperty("org.bytedeco.javacpp.maxPhysicalBytes") == null) {
            System.setProperty("org.bytedeco.javacpp.maxPhysicalBytes", "0");
        }
        System.exit(execute(new PrintWriter(System.err, true), args));
    }

    /** What {@link #main} runs, with errors to {@code err}: the exit code (0, 1 or 2, see above). Tests call this. */
    public static int execute(PrintWriter err, String... args) {
        CommandLine cl = commandLine();
        cl.setErr(err);
        return cl.execute(args);
    }

    /** The configured command line, also for tests. */
    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new TierKv());
        cl.setUsageHelpWidth(HELP_WIDTH);
        cl.setExecutionExceptionHandler((e, cmd, parsed) -> {
            String message = CliErrors.userMessage(e);
            if (message == null) {
                throw e;
            }
            cmd.getErr().println("tierkv: " + message);
            if (Boolean.getBoolean("tierkv.debug")) {
                e.printStackTrace(cmd.getErr());
            }
            return 2;
        });
        cl.setParameterExceptionHandler((e, args) -> {
            CommandLine cmd = e.getCommandLine();
            cmd.getErr().println("tierkv: " + CliErrors.oneLine(e.getMessage()) + " (see '" + cmd.getCommandSpec().qualifiedName()
                    + " --help')");
            return 2;
        });
        return cl;
    }

    /** A group given without its subcommand: its usage on stderr, exit code 2. */
    static int missingSubcommand(CommandLine.Model.CommandSpec spec) {
        CommandLine cl = spec.commandLine();
        cl.getErr().println("tierkv: '" + spec.qualifiedName() + "' needs a subcommand: " + String.join(", ", visibleSubcommands(cl)));
        cl.usage(cl.getErr());
        return 2;
    }

    /** The names of a command's subcommands, without {@code help}. */
    static List<String> visibleSubcommands(CommandLine cl) {
        List<String> names = new ArrayList<>();
        cl.getSubcommands().forEach((name, sub) -> {
            if (!sub.getCommandSpec().helpCommand()) {
                names.add(name);
            }
        });
        return names;
    }

    @Override
    public Integer call() {
        return missingSubcommand(spec);
    }
}

package io.tierkv.bench;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code tierkv}: the command line of TierKV. Every subcommand that measures something takes
 * {@code --out DIR} and writes its figures there as JSON (and CSV where tabular).
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
            CommandLine.HelpCommand.class
        })
public final class TierKv implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        // Temporaries are freed per step (PointerScope), so JavaCPP's check of the process's resident size on
        // every native allocation is pure cost (a /proc read; a fifth of a small model's decode step).
        if (System.getProperty("org.bytedeco.javacpp.maxPhysicalBytes") == null) {
            System.setProperty("org.bytedeco.javacpp.maxPhysicalBytes", "0");
        }
        System.exit(commandLine().execute(args));
    }

    /** The configured command line, also for tests. */
    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new TierKv());
        cl.setExecutionExceptionHandler((e, cmd, parsed) -> {
            if (e instanceof IllegalArgumentException || e instanceof java.io.UncheckedIOException
                    || e instanceof java.io.IOException || e instanceof IllegalStateException) {
                cmd.getErr().println("tierkv: " + e.getMessage());
                if (Boolean.getBoolean("tierkv.debug")) {
                    e.printStackTrace(cmd.getErr());
                }
                return 2;
            }
            throw e;
        });
        return cl;
    }

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }
}

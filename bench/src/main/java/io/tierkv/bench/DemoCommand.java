package io.tierkv.bench;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code tierkv demo}: a small version of the paper's experiment on the bundled model, on the CPU. */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "The paper's experiment, small: the bundled model on the CPU in under a minute; full vs hierarchical vs"
            + " attention sinks vs SnapKV vs H2O, questions before and after the passage.")
final class DemoCommand implements Callable<Integer> {
    @Mixin
    ModelOptions modelOptions;

    @Mixin
    OutputOption output;

    @Mixin
    EvalOptions evalOptions;

    @Mixin
    RemoteOptions remoteOptions;

    @Option(names = "--prompts", defaultValue = "16", description = "Prompts per question position (default: ${DEFAULT-VALUE}).")
    int prompts;

    @Override
    public Integer call() throws Exception {
        return EvalCommand.run(modelOptions, evalOptions, remoteOptions, prompts, output.dir("demo"), 1);
    }
}

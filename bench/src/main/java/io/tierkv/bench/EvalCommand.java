package io.tierkv.bench;

import io.tierkv.model.cuda.CudaDecoder;
import io.tierkv.model.eval.EvalResult;
import io.tierkv.model.eval.ReadingEval;
import io.tierkv.model.llama.LlamaCheckpoint;
import io.tierkv.model.llama.LlamaConfig;
import io.tierkv.model.llama.LlamaWeights;
import io.tierkv.tiering.remote.RemoteKvTier;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code tierkv eval}: the paper's experiment. */
@Command(name = "eval", mixinStandardHelpOptions = true,
        description = "The paper's experiment: every policy on the same reading-comprehension prompts, questions before and"
            + " after the passage, at a device budget; writes eval.json, eval.csv and PNG plots.")
final class EvalCommand implements Callable<Integer> {
    @Mixin
    ModelOptions modelOptions;

    @Mixin
    OutputOption output;

    @Mixin
    EvalOptions evalOptions;

    @Mixin
    RemoteOptions remoteOptions;

    @Option(names = "--prompts", defaultValue = "200", description = "Prompts per question position (default: ${DEFAULT-VALUE}).")
    int prompts;

    @Override
    public Integer call() throws Exception {
        return run(modelOptions, evalOptions, remoteOptions, prompts, output.dir("eval"), 3);
    }

    /** Runs the evaluation; {@code defaultRounds} when {@code --rounds} was not given. Progress goes to stderr. */
    static int run(ModelOptions modelOptions, EvalOptions evalOptions, RemoteOptions remoteOptions, int prompts, Path out,
                   int defaultRounds) throws Exception {
        modelOptions.validate(true);
        Options.positive("--prompts", prompts);
        var settings = evalOptions.settings(prompts, modelOptions.blockSize, defaultRounds);
        remoteOptions.validate();
        OutputOption.writableDirectory("--out", out);
        var hostRead = modelOptions.hostRead();
        Path dir = modelOptions.modelDir();
        if (modelOptions.useCuda(null)) {
            LlamaConfig config = LlamaConfig.readDir(dir);
            // the CUDA decoder's KV blocks are in the model's dtype: its remote namespace is not the CPU backend's F32 one
            try (RemoteKvTier remote = remoteOptions.open(dir, CudaDecoder.kvLayout(dir, modelOptions.blockSize, null))) {
                System.err.printf(Locale.ROOT, "eval on the CUDA decoder: %d prompts per position, %d round%s, policies %s, device budget"
                                + " %.0f%% of each prompt, %s mode (prefill in chunks up to the rows the policy reads), host read %s%n",
                        prompts, settings.rounds(), settings.rounds() == 1 ? "" : "s", settings.policies(), 100 * settings.budget(),
                        settings.mode().name().toLowerCase(Locale.ROOT), hostRead);
                ReadingEval eval = ReadingEval.onCuda(dir, config, settings, System.err::println, null, CudaDecoder.hostMirrorConfigured()).hostRead(hostRead)
                        .hostBudget(modelOptions.hostBudget()).remote(remote);
                EvalResult r = eval.run();
                report(r, modelOptions, "cuda", 0, remoteJson(eval, remote), out);
                printRemoteLine(eval, remote);
            }
            return 0;
        }
        try (LlamaWeights w = LlamaCheckpoint.load(dir);
             RemoteKvTier remote = remoteOptions.open(dir, w.config, modelOptions.blockSize)) {
            int threads = modelOptions.applyThreads(w.config);
            System.err.printf(Locale.ROOT, "eval: %d prompts per position, %d round%s, policies %s, device budget %.0f%% of each prompt, %s mode,"
                            + " passages of %d to %d tokens, host read %s%n",
                    prompts, settings.rounds(), settings.rounds() == 1 ? "" : "s", settings.policies(), 100 * settings.budget(),
                    settings.mode().name().toLowerCase(Locale.ROOT), settings.task().minPassageTokens(), settings.task().maxPassageTokens(),
                    hostRead);
            ReadingEval eval = new ReadingEval(w, settings, System.err::println).hostRead(hostRead).hostBudget(modelOptions.hostBudget())
                    .remote(remote);
            EvalResult r = eval.run();
            report(r, modelOptions, "cpu", threads, remoteJson(eval, remote), out);
            printRemoteLine(eval, remote);
        }
        return 0;
    }

    /** The remote tier's figures for eval.json once its writes were answered (or timed out); null without one. */
    private static Map<String, Object> remoteJson(ReadingEval eval, RemoteKvTier remote) {
        if (remote == null) {
            return null;
        }
        remote.awaitWrites(remote.config().writeTimeout());
        return RemoteReport.tally(eval.remoteTally(), remote.stats());
    }

    private static void printRemoteLine(ReadingEval eval, RemoteKvTier remote) {
        if (remote != null) {
            System.out.println(RemoteReport.tallyLine(eval.remoteTally(), remote.stats()));
        }
    }

    /** Writes the reports and prints the paper's table. */
    private static void report(EvalResult r, ModelOptions modelOptions, String backend, int threads, Map<String, Object> remoteJson, Path out)
            throws java.io.IOException {
        EvalReport.write(r, modelOptions.model == null ? Path.of("(bundled)") : modelOptions.modelDir(), runInfo(modelOptions, backend, threads),
                remoteJson, out);
        System.out.println();
        System.out.print(EvalReport.paperTable(r));
        System.out.println();
        System.out.println("report: " + out.toAbsolutePath().resolve("eval.json") + " (and eval.csv, eval.jsonl"
                + (r.settings().trackPlots() ? ", *.png)" : ")"));
    }

    /** What ran: version, git commit if known, the backend that ran (cpu or cuda), threads (0 on cuda), the machine's cores. */
    static Map<String, Object> runInfo(ModelOptions modelOptions, String backend, int threads) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("version", new VersionProvider().getVersion()[0]);
        m.put("gitCommit", GitCommit.find());
        m.put("backend", backend);
        m.put("hostRead", modelOptions.hostRead().toString());
        m.put("threads", threads);
        m.put("openblasThreads", ModelOptions.openBlasThreads());
        m.put("cores", Runtime.getRuntime().availableProcessors());
        m.put("java", System.getProperty("java.version"));
        m.put("ompWaitPolicy", System.getenv("OMP_WAIT_POLICY"));
        return m;
    }
}

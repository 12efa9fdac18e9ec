package io.tierkv.model.eval;

import io.tierkv.core.policy.Policies;
import io.tierkv.model.generate.DecodeMetrics;
import io.tierkv.model.generate.HostRead;
import io.tierkv.model.generate.RemoteTally;
import io.tierkv.core.DType;
import io.tierkv.model.llama.LlamaConfig;
import io.tierkv.model.llama.LlamaWeights;
import io.tierkv.model.task.QuestionPosition;
import io.tierkv.model.task.QuestionType;
import io.tierkv.model.task.ReadingPrompt;
import io.tierkv.model.task.ReadingTask;
import io.tierkv.model.task.Vocabulary;
import io.tierkv.tiering.Sequence;
import io.tierkv.tiering.remote.RemoteKvTier;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Runs the paper's experiment, and its multi-round extension: for each question position, the same
 * prompts through every policy, each prompt in a fresh tier manager whose device arena holds exactly the
 * budget (a fraction of round 1's prompt), greedy decoding, exact-match scoring per question, round after
 * round ({@link PromptRunner}).
 *
 * <p>The host tier is unbounded, so a policy loses accuracy only by evicting: blocks over the device
 * budget are read on the host exactly. Whether the device served the attention is measured
 * ({@code deviceAttentionShare}).
 */
public final class ReadingEval {
    private final LlamaConfig config;
    private final EvalSettings s;
    private final Consumer<String> progress;
    /** Longest quiet stretch between progress lines when runs are slow (a large model, the CPU, the driver emulator). */
    static final long PROGRESS_SECONDS = 30;
    private final Vocabulary vocab = Vocabulary.get();
    /** The CPU's runner (libtorch), or null on the CUDA decoder. */
    private final PromptRunner runner;
    /** The CUDA decoder's checkpoint directory, or null on the CPU. */
    private final Path cudaDir;
    private final DType kvDtype;
    private final boolean hostMirror;
    private HostRead hostRead = HostRead.EXACT;
    private double hostBudget = Double.POSITIVE_INFINITY;
    private RemoteKvTier remote;
    /** The CUDA decoder's runs' use of the remote tier (the CPU's runner keeps its own). */
    private final RemoteTally cudaRemoteTally = new RemoteTally();

    /** The experiment on the CPU, libtorch computing every step with {@code weights}. */
    public ReadingEval(LlamaWeights weights, EvalSettings settings, Consumer<String> progress) {
        this(weights.config, settings, progress, new PromptRunner(weights, settings), null, null, false);
    }

    private ReadingEval(LlamaConfig config, EvalSettings settings, Consumer<String> progress, PromptRunner runner, Path cudaDir,
                        DType kvDtype, boolean hostMirror) {
        this.config = config;
        this.s = settings;
        this.progress = progress;
        for (String p : settings.policies()) {
            Policies.create(p); // fail fast on an unknown name or option
        }
        if (config.vocabSize() != vocab.size()) {
            throw new IllegalArgumentException("the model's vocabulary has " + config.vocabSize()
                    + " tokens, the reading suite's " + vocab.size() + ": eval needs a model trained on the suite");
        }
        this.runner = runner;
        this.cudaDir = cudaDir;
        this.kvDtype = kvDtype;
        this.hostMirror = hostMirror;
    }

    /**
     * The experiment on the CUDA decoder ({@link CudaPromptRunner}): {@code dir}'s checkpoint on GPU 0, or with
     * {@code hostMirror} on the host mirror of the device; KV blocks in {@code kvDtype} (null: the model's).
     */
    public static ReadingEval onCuda(Path dir, LlamaConfig config, EvalSettings settings, Consumer<String> progress, DType kvDtype,
                                     boolean hostMirror) {
        return new ReadingEval(config, settings, progress, null, dir, kvDtype, hostMirror);
    }

    /** Bounds every run's host tier at {@code multiple} times its device budget (default unbounded); returns this. */
    public ReadingEval hostBudget(double multiple) {
        this.hostBudget = multiple;
        if (runner != null) {
            runner.hostBudget(multiple);
        }
        return this;
    }

    /** Reads the host tier of every run this way (default {@link HostRead#EXACT}); returns this. */
    public ReadingEval hostRead(HostRead mode) {
        this.hostRead = mode;
        if (runner != null) {
            runner.hostRead(mode);
        }
        return this;
    }

    /**
     * Looks round 1's prompt of every run up in {@code tier} before prefill, loading the leading blocks found there,
     * and writes the blocks prefill computed to it (see {@link io.tierkv.model.generate.RemotePrefill}); the tier stays
     * the caller's to close. Returns this.
     */
    public ReadingEval remote(RemoteKvTier tier) {
        this.remote = tier;
        if (runner != null) {
            runner.remote(tier);
        }
        return this;
    }

    /** What the timed runs did with the remote tier (warm-up runs are not counted). */
    public RemoteTally remoteTally() {
        return runner != null ? runner.remoteTally() : cudaRemoteTally;
    }

    /** Untimed prompts per position that each policy runs before the timed ones, by default. */
    private static final int WARM_UP_PROMPTS = 4;
    private int warmUps = WARM_UP_PROMPTS;

    /** Untimed warm-up prompts per position and policy (tests that time nothing skip them); returns this. */
    ReadingEval warmUps(int prompts) {
        this.warmUps = prompts;
        return this;
    }

    /** The round labels of the report: 1 .. rounds, then all. */
    private List<String> roundLabels() {
        List<String> out = new ArrayList<>();
        for (int r = 1; r <= s.rounds(); r++) {
            out.add(Integer.toString(r));
        }
        out.add("all");
        return out;
    }

    /**
     * Runs every prompt through every policy. Prompt-major: the policies take turns on each prompt, so that
     * their decode speeds are measured under the same conditions (JIT, caches, whatever else the machine
     * is doing), after a few untimed warm-up prompts.
     */
    public EvalResult run() {
        try (PromptRuns runner = this.runner != null ? this.runner
                : new CudaPromptRunner(cudaDir, config, s, kvDtype, hostRead, hostBudget, hostMirror, remote, cudaRemoteTally)) {
            return run(runner);
        }
    }

    private EvalResult run(PromptRuns runner) {
        ReadingTask task = new ReadingTask(s.task());
        Map<String, EvalCell> cells = new LinkedHashMap<>();
        Map<String, List<double[]>> sizes = new LinkedHashMap<>();
        List<EvalResult.PopularitySnapshot> snapshots = new ArrayList<>();
        List<EvalResult.PromptLine> lines = new ArrayList<>();
        List<EvalResult.ResidencyTrace> traces = new ArrayList<>();
        for (String spec : s.policies()) {
            for (QuestionPosition position : QuestionPosition.values()) {
                for (String round : roundLabels()) {
                    cells.put(key(spec, position, round, "all"), new EvalCell());
                    for (QuestionType t : QuestionType.values()) {
                        cells.put(key(spec, position, round, t.shortName()), new EvalCell());
                    }
                }
                sizes.put(spec + "|" + position.jsonName(), new ArrayList<>());
            }
        }
        // Warm-up: the JIT compiles each policy's paths before any run is timed (held-out prompts of another seed).
        for (int i = 0; i < warmUps && s.promptsPerPosition() > 0; i++) {
            for (QuestionPosition position : QuestionPosition.values()) {
                ReadingPrompt warmUp = task.prompt(s.seed() + 1, i, QuestionType.values()[i % QuestionType.values().length], position,
                        Math.min(s.rounds(), 2));
                for (String spec : s.policies()) {
                    runner.run(spec, warmUp, warmUp.rounds(), null);
                }
            }
        }
        remoteTally().reset();
        long start = System.nanoTime();
        long lastLine = start;
        int total = s.policies().size() * 2 * s.promptsPerPosition();
        int done = 0;
        int layer = config.layers() - 1;
        for (QuestionPosition position : QuestionPosition.values()) {
            for (int i = 0; i < s.promptsPerPosition(); i++) {
                QuestionType type = QuestionType.values()[i % QuestionType.values().length];
                ReadingPrompt prompt = task.prompt(s.seed(), i, type, position, s.rounds());
                boolean snapshot = s.trackPlots() && i == 0;
                for (String spec : s.policies()) {
                    List<Double> kept = new ArrayList<>();
                    List<byte[]> levels = new ArrayList<>();
                    int capacity = prompt.teacherForced().length + s.rounds() * (s.maxTokens() + 1);
                    PromptRunner.Observer observer = !s.trackPlots() ? null : seq -> {
                        kept.add((double) seq.keptTokens());
                        if (snapshot) {
                            levels.add(levelsOf(seq, layer, capacity));
                        }
                    };
                    PromptRunner.Run run = runner.run(spec, prompt, s.rounds(), observer);
                    add(cells, spec, position, prompt, run);
                    lines.add(line(spec, i, position, prompt, run));
                    if (s.trackPlots()) {
                        sizes.get(spec + "|" + position.jsonName()).add(kept.stream().mapToDouble(Double::doubleValue).toArray());
                    }
                    if (snapshot) {
                        snapshots.add(new EvalResult.PopularitySnapshot(spec, position.jsonName(), type.shortName(),
                                prompt.prompt().length, levels.toArray(new byte[0][])));
                        traces.add(new EvalResult.ResidencyTrace(spec, position.jsonName(), run.residency()));
                    }
                    done++;
                    boolean promptDone = spec.equals(s.policies().get(s.policies().size() - 1));
                    long now = System.nanoTime();
                    // every 5 prompts and at the last, or after any run once the last line is PROGRESS_SECONDS old (slow runs)
                    boolean due = promptDone && ((i + 1) % 5 == 0 || i + 1 == s.promptsPerPosition());
                    if (!due && now - lastLine < PROGRESS_SECONDS * 1_000_000_000L) {
                        continue;
                    }
                    lastLine = now;
                    double secs = (now - start) / 1e9;
                    StringBuilder acc = new StringBuilder();
                    for (String p : s.policies()) {
                        EvalCell all = cells.get(key(p, position, "all", "all"));
                        acc.append(all.isEmpty() ? "  " + p + " -" : String.format(Locale.ROOT, "  %s %.2f", p, all.accuracy()));
                    }
                    progress.accept(String.format(Locale.ROOT, "[%d/%d runs] questions %-6s prompt %d/%d, accuracy so far:%s  (%.0fs, ~%.0fs left)",
                            done, total, position.jsonName(), i + 1, s.promptsPerPosition(), acc, secs, secs / done * (total - done)));
                }
            }
        }
        List<EvalRow> rows = new ArrayList<>();
        List<EvalResult.SizeCurve> curves = new ArrayList<>();
        for (String spec : s.policies()) {
            for (QuestionPosition position : QuestionPosition.values()) {
                for (String round : roundLabels()) {
                    rows.add(cells.get(key(spec, position, round, "all")).row(spec, position.jsonName(), round, "all"));
                    for (QuestionType t : QuestionType.values()) {
                        rows.add(cells.get(key(spec, position, round, t.shortName())).row(spec, position.jsonName(), round, t.shortName()));
                    }
                }
                if (s.trackPlots()) {
                    curves.add(SizeCurves.curve(spec, position.jsonName(), sizes.get(spec + "|" + position.jsonName())));
                }
            }
        }
        return new EvalResult(s, rows, curves, snapshots, lines, traces);
    }

    private static String key(String spec, QuestionPosition position, String round, String type) {
        return spec + "|" + position.jsonName() + "|" + round + "|" + type;
    }

    /** Adds one run to its cells: each round's type cell and "all", and the "all" round's. */
    private void add(Map<String, EvalCell> cells, String spec, QuestionPosition position, ReadingPrompt prompt, PromptRunner.Run run) {
        for (int r = 0; r < run.rounds().size(); r++) {
            PromptRunner.RoundRun rr = run.rounds().get(r);
            QuestionType type = r == 0 ? prompt.type() : prompt.followUps().get(r - 1).type();
            String round = Integer.toString(r + 1);
            cells.get(key(spec, position, round, "all")).addRound(rr, run);
            cells.get(key(spec, position, round, type.shortName())).addRound(rr, run);
            cells.get(key(spec, position, "all", type.shortName())).addRound(rr, run);
        }
        cells.get(key(spec, position, "all", "all")).addSession(run);
    }

    private static EvalResult.PromptLine line(String spec, int index, QuestionPosition position, ReadingPrompt prompt, PromptRunner.Run run) {
        List<EvalResult.RoundLine> rounds = new ArrayList<>();
        for (int r = 0; r < run.rounds().size(); r++) {
            PromptRunner.RoundRun rr = run.rounds().get(r);
            QuestionType type = r == 0 ? prompt.type() : prompt.followUps().get(r - 1).type();
            rounds.add(new EvalResult.RoundLine(r + 1, type.shortName(), rr.correct(), rr.keptFraction(),
                    rr.metrics().deviceAttentionShare(), rr.metrics().deviceTopkShare(), rr.h2dBytes(), rr.d2hBytes(), rr.tokens()));
        }
        DecodeMetrics.Snapshot m = run.metrics();
        var st = run.stats();
        return new EvalResult.PromptLine(spec, index, position.jsonName(), prompt.type().shortName(), run.promptTokens(),
                run.sessionTokens(), run.generated(), rounds, run.keptFraction(), m.deviceAttentionShare(), m.deviceTopkShare(),
                st.h2dBytes(), st.d2hBytes(), run.prefillH2d(), run.prefillD2h(), run.decodeH2d(), run.decodeD2h(),
                st.promotionsStarted(), st.evictedBlocks() + st.droppedBlocks(), run.budgetPeak());
    }

    private static byte[] levelsOf(Sequence seq, int layer, int capacity) {
        byte[] out = new byte[capacity];
        java.util.Arrays.fill(out, (byte) -1);
        for (int t = 0; t < Math.min(capacity, seq.length()); t++) {
            out[t] = seq.level(layer, t);
        }
        return out;
    }
}

package io.tierkv.model.eval;

import io.tierkv.core.policy.Policies;
import io.tierkv.model.generate.GenerationResult;
import io.tierkv.model.generate.Generator;
import io.tierkv.model.generate.PrefillMode;
import io.tierkv.model.generate.Sampler;
import io.tierkv.model.generate.TieredSession;
import io.tierkv.model.llama.LlamaConfig;
import io.tierkv.model.llama.LlamaWeights;
import io.tierkv.model.task.AnswerScorer;
import io.tierkv.model.task.QuestionPosition;
import io.tierkv.model.task.QuestionType;
import io.tierkv.model.task.ReadingPrompt;
import io.tierkv.model.task.ReadingTask;
import io.tierkv.model.task.Vocabulary;
import io.tierkv.tiering.Sequence;
import io.tierkv.tiering.TierStats;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Runs the paper's experiment: for each question position, the same prompts through every policy, each
 * prompt in a fresh tier manager whose device arena holds exactly the budget (a fraction of that
 * prompt), greedy decoding, exact-match scoring per question.
 *
 * <p>The host tier is unbounded, so a policy loses accuracy only by evicting: blocks over the device
 * budget are read on the host exactly.
 */
public final class ReadingEval {
    private final LlamaWeights weights;
    private final EvalSettings s;
    private final Consumer<String> progress;
    private final Vocabulary vocab = Vocabulary.get();

    public ReadingEval(LlamaWeights weights, EvalSettings settings, Consumer<String> progress) {
        this.weights = weights;
        this.s = settings;
        this.progress = progress;
        for (String p : settings.policies()) {
            Policies.create(p); // fail fast on an unknown name or option
        }
        if (weights.config.vocabSize() != vocab.size()) {
            throw new IllegalArgumentException("the model's vocabulary has " + weights.config.vocabSize()
                    + " tokens, the reading suite's " + vocab.size() + ": eval needs a model trained on the suite");
        }
    }

    /** Accumulates one policy x position x type cell. */
    private static final class Cell {
        int correct;
        int total;
        int prompts;
        double keptMeanSum;
        double keptPeak;
        long devicePeak;
        double h2d;
        double d2h;
        long generated;
        long decodeNanos;
    }

    public EvalResult run() {
        ReadingTask task = new ReadingTask(s.task());
        List<EvalRow> rows = new ArrayList<>();
        List<EvalResult.SizeCurve> curves = new ArrayList<>();
        List<EvalResult.PopularitySnapshot> snapshots = new ArrayList<>();
        long start = System.nanoTime();
        int total = s.policies().size() * 2 * s.promptsPerPosition();
        int done = 0;
        for (String spec : s.policies()) {
            for (QuestionPosition position : QuestionPosition.values()) {
                Map<String, Cell> cells = new LinkedHashMap<>();
                cells.put("all", new Cell());
                for (QuestionType t : QuestionType.values()) {
                    cells.put(t.shortName(), new Cell());
                }
                List<double[]> sizes = new ArrayList<>();
                for (int i = 0; i < s.promptsPerPosition(); i++) {
                    QuestionType type = QuestionType.values()[i % QuestionType.values().length];
                    ReadingPrompt prompt = task.prompt(s.seed(), i, type, position);
                    boolean snapshot = s.trackPlots() && i == 0;
                    Run run = runOne(spec, prompt, snapshot);
                    for (Cell c : List.of(cells.get("all"), cells.get(type.shortName()))) {
                        add(c, run);
                    }
                    if (s.trackPlots()) {
                        sizes.add(run.sizes);
                    }
                    if (snapshot) {
                        snapshots.add(new EvalResult.PopularitySnapshot(spec, position.jsonName(), type.shortName(),
                                prompt.prompt().length, run.levels));
                    }
                    done++;
                    if (done % 10 == 0 || done == total) {
                        double secs = (System.nanoTime() - start) / 1e9;
                        Cell all = cells.get("all");
                        progress.accept(String.format(Locale.ROOT, "[%d/%d] %-14s %-6s accuracy so far %.3f  (%.0fs, ~%.0fs left)",
                                done, total, spec, position.jsonName(), all.correct / (double) Math.max(1, all.total), secs,
                                secs / done * (total - done)));
                    }
                }
                for (Map.Entry<String, Cell> e : cells.entrySet()) {
                    rows.add(row(spec, position.jsonName(), e.getKey(), e.getValue()));
                }
                if (s.trackPlots()) {
                    curves.add(new EvalResult.SizeCurve(spec, position.jsonName(), meanCurve(sizes)));
                }
            }
        }
        return new EvalResult(s, rows, curves, snapshots);
    }

    /** One prompt through one policy. */
    private record Run(boolean[] correct, GenerationResult gen, double keptFraction, double keptPeakFraction,
                       long deviceBytesPeak, long h2d, long d2h, double[] sizes, byte[][] levels) {
    }

    private Run runOne(String spec, ReadingPrompt prompt, boolean snapshot) {
        LlamaConfig c = weights.config;
        int p = prompt.prompt().length;
        List<Double> sizes = new ArrayList<>();
        List<byte[]> levels = new ArrayList<>();
        int capacity = p + s.maxTokens();
        int chunk = s.mode() == PrefillMode.CHUNKED ? s.chunk() : 0;
        try (TieredSession session = new TieredSession(weights, Policies.create(spec), p, s.budget(), s.blockSize(), s.maxTokens(), chunk)) {
            Generator.StepObserver observer = !s.trackPlots() ? null : (sq, generated) -> {
                sizes.add((double) sq.keptTokens());
                if (snapshot) {
                    levels.add(levelsOf(sq, c.layers() - 1, capacity));
                }
            };
            GenerationResult g = session.generate(prompt.prompt(), s.maxTokens(), s.mode(), s.chunk(), Sampler.greedy(),
                    c.eosTokenId(), null, observer);
            TierStats st = session.tiers().stats();
            String completion = vocab.decode(g.tokens(), 0, g.tokens().length);
            boolean[] correct = AnswerScorer.score(prompt.answerLines(), completion);
            return new Run(correct, g, g.keptFraction(), g.keptPeak() / (double) p, st.deviceBytesPeak(),
                    st.h2dBytes(), st.d2hBytes(), sizes.stream().mapToDouble(Double::doubleValue).toArray(),
                    levels.toArray(new byte[0][]));
        }
    }

    private static byte[] levelsOf(Sequence seq, int layer, int capacity) {
        byte[] out = new byte[capacity];
        java.util.Arrays.fill(out, (byte) -1);
        for (int t = 0; t < Math.min(capacity, seq.length()); t++) {
            out[t] = seq.level(layer, t);
        }
        return out;
    }

    private static void add(Cell c, Run r) {
        for (boolean ok : r.correct) {
            c.total++;
            if (ok) {
                c.correct++;
            }
        }
        c.prompts++;
        c.keptMeanSum += r.keptFraction;
        c.keptPeak = Math.max(c.keptPeak, r.keptPeakFraction);
        c.devicePeak = Math.max(c.devicePeak, r.deviceBytesPeak);
        c.h2d += r.h2d;
        c.d2h += r.d2h;
        c.generated += Math.max(0, r.gen.tokens().length - 1);
        c.decodeNanos += r.gen.decodeNanos();
    }

    private static EvalRow row(String policy, String position, String type, Cell c) {
        int n = Math.max(1, c.prompts);
        return new EvalRow(policy, position, type, c.correct, c.total, c.total == 0 ? 0 : c.correct / (double) c.total,
                c.keptMeanSum / n, c.keptPeak, c.devicePeak, c.h2d / n, c.d2h / n,
                c.decodeNanos == 0 ? 0 : c.generated / (c.decodeNanos / 1e9));
    }

    private static double[] meanCurve(List<double[]> curves) {
        int n = 0;
        for (double[] c : curves) {
            n = Math.max(n, c.length);
        }
        double[] sum = new double[n];
        int[] count = new int[n];
        for (double[] c : curves) {
            for (int i = 0; i < c.length; i++) {
                sum[i] += c[i];
                count[i]++;
            }
        }
        for (int i = 0; i < n; i++) {
            sum[i] = count[i] == 0 ? 0 : sum[i] / count[i];
        }
        return sum;
    }
}

package io.tierkv.model.eval;

import io.tierkv.core.policy.Policies;
import io.tierkv.model.generate.GenerationResult;
import io.tierkv.model.generate.HostRead;
import io.tierkv.model.generate.HostReadStats;
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
    private HostRead hostRead = HostRead.EXACT;

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

    /** Reads the host tier of every run this way (default {@link HostRead#EXACT}); returns this. */
    public ReadingEval hostRead(HostRead mode) {
        this.hostRead = mode;
        return this;
    }

    /** Accumulates one policy x position x type cell. */
    private static final class Cell {
        int correct;
        int total;
        int prompts;
        double keptMeanSum;
        double keptPeak;
        long devicePeak;
        double budgetPeak;
        double h2d;
        double d2h;
        long generated;
        long decodeNanos;
        HostReadStats reads;
        long digestBytesPeak;
    }

    /** Untimed prompts per position that each policy runs before the timed ones. */
    private static final int WARM_UP_PROMPTS = 4;

    /**
     * Runs every prompt through every policy. Prompt-major: the policies take turns on each prompt, so that
     * their decode speeds are measured under the same conditions (JIT, caches, whatever else the machine
     * is doing), after a few untimed warm-up prompts.
     */
    public EvalResult run() {
        ReadingTask task = new ReadingTask(s.task());
        Map<String, Map<String, Cell>> cells = new LinkedHashMap<>();
        Map<String, List<double[]>> sizes = new LinkedHashMap<>();
        List<EvalResult.PopularitySnapshot> snapshots = new ArrayList<>();
        for (String spec : s.policies()) {
            for (QuestionPosition position : QuestionPosition.values()) {
                Map<String, Cell> byType = new LinkedHashMap<>();
                byType.put("all", new Cell());
                for (QuestionType t : QuestionType.values()) {
                    byType.put(t.shortName(), new Cell());
                }
                cells.put(key(spec, position), byType);
                sizes.put(key(spec, position), new ArrayList<>());
            }
        }
        // Warm-up: the JIT compiles each policy's paths before any run is timed (held-out prompts of another seed).
        for (int i = 0; i < WARM_UP_PROMPTS && s.promptsPerPosition() > 0; i++) {
            for (QuestionPosition position : QuestionPosition.values()) {
                ReadingPrompt warmUp = task.prompt(s.seed() + 1, i, QuestionType.values()[i % QuestionType.values().length], position);
                for (String spec : s.policies()) {
                    runOne(spec, warmUp, false);
                }
            }
        }
        long start = System.nanoTime();
        int total = s.policies().size() * 2 * s.promptsPerPosition();
        int done = 0;
        for (QuestionPosition position : QuestionPosition.values()) {
            for (int i = 0; i < s.promptsPerPosition(); i++) {
                QuestionType type = QuestionType.values()[i % QuestionType.values().length];
                ReadingPrompt prompt = task.prompt(s.seed(), i, type, position);
                boolean snapshot = s.trackPlots() && i == 0;
                for (String spec : s.policies()) {
                    Run run = runOne(spec, prompt, snapshot);
                    Map<String, Cell> byType = cells.get(key(spec, position));
                    add(byType.get("all"), run);
                    add(byType.get(type.shortName()), run);
                    if (s.trackPlots()) {
                        sizes.get(key(spec, position)).add(run.sizes);
                    }
                    if (snapshot) {
                        snapshots.add(new EvalResult.PopularitySnapshot(spec, position.jsonName(), type.shortName(),
                                prompt.prompt().length, run.levels));
                    }
                    done++;
                }
                if ((i + 1) % 5 == 0 || i + 1 == s.promptsPerPosition()) {
                    double secs = (System.nanoTime() - start) / 1e9;
                    StringBuilder acc = new StringBuilder();
                    for (String spec : s.policies()) {
                        Cell all = cells.get(key(spec, position)).get("all");
                        acc.append(String.format(Locale.ROOT, "  %s %.2f", spec, all.correct / (double) Math.max(1, all.total)));
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
                for (Map.Entry<String, Cell> e : cells.get(key(spec, position)).entrySet()) {
                    rows.add(row(spec, position.jsonName(), e.getKey(), e.getValue()));
                }
                if (s.trackPlots()) {
                    curves.add(new EvalResult.SizeCurve(spec, position.jsonName(), meanCurve(sizes.get(key(spec, position)))));
                }
            }
        }
        return new EvalResult(s, rows, curves, snapshots);
    }

    private static String key(String spec, QuestionPosition position) {
        return spec + "|" + position.jsonName();
    }

    /** One prompt through one policy. */
    private record Run(boolean[] correct, GenerationResult gen, double keptFraction, double keptPeakFraction,
                       long deviceBytesPeak, double budgetPeak, long h2d, long d2h, double[] sizes, byte[][] levels,
                       HostReadStats reads, long digestBytesPeak) {
    }

    private Run runOne(String spec, ReadingPrompt prompt, boolean snapshot) {
        LlamaConfig c = weights.config;
        int p = prompt.prompt().length;
        List<Double> sizes = new ArrayList<>();
        List<byte[]> levels = new ArrayList<>();
        int capacity = p + s.maxTokens();
        int chunk = s.mode() == PrefillMode.CHUNKED ? s.chunk() : 0;
        try (TieredSession session = new TieredSession(weights, Policies.create(spec), p, s.budget(), s.blockSize(), s.maxTokens(), chunk)) {
            session.decoder().hostRead(hostRead);
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
                    st.deviceBytesPeak() / (double) (session.deviceBlocks() * session.tiers().slotBytes()),
                    st.h2dBytes(), st.d2hBytes(), sizes.stream().mapToDouble(Double::doubleValue).toArray(),
                    levels.toArray(new byte[0][]), session.decoder().hostReads(), session.decoder().digestBytesPeak());
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
        c.budgetPeak = Math.max(c.budgetPeak, r.budgetPeak);
        c.h2d += r.h2d;
        c.d2h += r.d2h;
        c.generated += Math.max(0, r.gen.tokens().length - 1);
        c.decodeNanos += r.gen.decodeNanos();
        if (c.reads == null) {
            c.reads = new HostReadStats(r.reads.layers());
        }
        c.reads.addAll(r.reads);
        c.digestBytesPeak = Math.max(c.digestBytesPeak, r.digestBytesPeak);
    }

    private static EvalRow row(String policy, String position, String type, Cell c) {
        int n = Math.max(1, c.prompts);
        return new EvalRow(policy, position, type, c.correct, c.total, c.total == 0 ? 0 : c.correct / (double) c.total,
                c.keptMeanSum / n, c.keptPeak, c.devicePeak, c.budgetPeak, c.h2d / n, c.d2h / n,
                c.decodeNanos == 0 ? 0 : c.generated / (c.decodeNanos / 1e9),
                c.reads == null ? 1.0 : c.reads.fraction(), c.reads == null ? Double.NaN : c.reads.recall(),
                c.reads == null ? "" : c.reads.recallText(), c.digestBytesPeak);
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

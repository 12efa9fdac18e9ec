package io.tierkv.core.trace;

import io.tierkv.core.placement.PlacementConfig;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * A seeded generator of attention traces with the structure that KV-cache policies are built around
 * (see {@link SyntheticTraceConfig} for the knobs and defaults):
 *
 * <ul>
 *   <li><b>attention sinks</b>: the first few tokens collect attention at every step (StreamingLLM);</li>
 *   <li><b>a recent window</b>: the newest tokens, nearer ones more likely (distance = window x u^2);</li>
 *   <li><b>a popular set</b> per layer: spans of a few tokens ranked by a Zipf law, so a handful are
 *       hot and a long tail is lukewarm (H2O's heavy hitters, the paper's CACHE level); it
 *       <b>drifts</b>: spans are replaced at random ranks, by spans among the newest tokens (what was
 *       just read or written) or anywhere in the sequence so far;</li>
 *   <li><b>recall</b>: now and then a uniformly random old token, the case that punishes policies
 *       which dropped the middle of the prompt.</li>
 * </ul>
 *
 * <p>The <b>revisit family</b> ({@link SyntheticTraceConfig#revisitPeriod()} &gt; 0) cuts the prompt into passages;
 * each layer's popular set lies in one passage (its drift stays inside it, or among the newest tokens) and moves
 * every period to another passage, half the time one the layer attended before, so attention returns to
 * a passage read hundreds of steps earlier. Off, it draws nothing, so default traces are unchanged.
 *
 * <p>Each layer has its own random stream and popular set; draws repeat until a layer holds
 * {@code min(k, length)} distinct positions (after 16k tries the rest are filled with the newest
 * unused tokens, which only happens when k is close to the length). Deterministic: equal
 * configurations give equal traces, on any machine.
 */
public final class SyntheticTrace implements TraceSource {
    private final SyntheticTraceConfig config;
    private TraceHeader header;
    /** (layer) one random stream per layer. */
    private final SplittableRandom[] random;
    /** (layer, rank) first token of each popular span. */
    private final int[][] spans;
    /** (rank) cumulative Zipf probabilities, last = 1. */
    private final double[] zipfCdf;
    /** (position) the draw stamp that last took each position, for O(1) de-duplication. */
    private final int[] taken;
    /** (topK) scratch for one layer's draws. */
    private final int[] drawn;
    private int stamp;
    private int step;
    /** Revisit family only: (layer) the passage the popular set lies in, and the passages each layer attended. */
    private final int[] passage;
    private final boolean[][] visited;

    public SyntheticTrace(SyntheticTraceConfig config) {
        this.config = config;
        int layers = config.layout().layers();
        SplittableRandom root = new SplittableRandom(config.seed());
        this.random = new SplittableRandom[layers];
        this.spans = new int[layers][config.popularSpans()];
        boolean revisits = config.revisitPeriod() > 0;
        this.passage = new int[revisits ? layers : 0];
        this.visited = new boolean[revisits ? layers : 0][config.passages()];
        for (int l = 0; l < layers; l++) {
            random[l] = root.split();
            if (revisits) {
                moveTo(l, random[l].nextInt(config.passages()));
                continue;
            }
            for (int r = 0; r < spans[l].length; r++) {
                spans[l][r] = newSpan(random[l], config.promptLength());
            }
        }
        this.zipfCdf = zipf(config.popularSpans(), config.zipfExponent());
        this.taken = new int[config.promptLength() + config.steps() + 1];
        this.drawn = new int[config.topK()];
        this.header = new TraceHeader(config.layout(), config.topK(), config.promptLength(), config.steps(), config.describe(),
                prefill(config.seed()));
    }

    /**
     * The prompt's own attention: the last {@link PlacementConfig#priorQueries} prompt queries
     * (those the runtime's prior reads) draw their top-k from the same
     * mixture as the generated ones (sinks, recent, the popular set as it stands at the end of the prompt,
     * recall), on a random stream of their own so the steps are those of a trace without it.
     */
    private int[][] prefill(long seed) {
        int layers = config.layout().layers();
        int prompt = config.promptLength();
        int blockSize = config.layout().blockSize();
        int[][] counts = new int[layers][config.layout().blocksFor(prompt)];
        SplittableRandom root = new SplittableRandom(seed ^ 0x5EED_F00D_CAFEL);
        for (int l = 0; l < layers; l++) {
            SplittableRandom rnd = root.split();
            for (int q = Math.max(1, prompt - PlacementConfig.priorQueries(prompt) + 1); q <= prompt; q++) {
                int target = Math.min(config.topK(), q);
                stamp++;
                for (int n = 0, attempt = 0; n < target && attempt < 16 * 1024; attempt++) {
                    int p = pick(rnd, l, q);
                    if (taken[p] != stamp) {
                        taken[p] = stamp;
                        counts[l][p / blockSize]++;
                        n++;
                    }
                }
            }
        }
        return counts;
    }

    public SyntheticTraceConfig config() {
        return config;
    }

    /** Generates the whole trace into {@code file}; returns the header written. */
    public static TraceHeader write(SyntheticTraceConfig config, java.nio.file.Path file) throws java.io.IOException {
        try (SyntheticTrace trace = new SyntheticTrace(config)) {
            TraceWriter.copy(trace, file);
            return trace.header();
        }
    }

    @Override
    public TraceHeader header() {
        return header;
    }

    @Override
    public boolean next(TraceStep out) {
        if (step == config.steps()) {
            return false;
        }
        int length = config.promptLength() + step + 1;
        boolean move = config.revisitPeriod() > 0 && step > 0 && step % config.revisitPeriod() == 0;
        for (int l = 0; l < out.layers(); l++) {
            if (move) {
                revisit(l);
            }
            drift(l, length);
            int n = draw(l, length, out.positions(l));
            out.setCount(l, n);
        }
        out.setStep(step);
        step++;
        return true;
    }

    /** Draws {@code min(k, length)} distinct positions below {@code length} into {@code row}, ascending. */
    private int draw(int layer, int length, int[] row) {
        int target = Math.min(config.topK(), length);
        if (target == length) {
            for (int i = 0; i < length; i++) {
                row[i] = i;
            }
            return length;
        }
        SplittableRandom rnd = random[layer];
        int n = 0;
        stamp++;
        for (int attempt = 0; n < target && attempt < 16 * 1024; attempt++) {
            int p = pick(rnd, layer, length);
            if (taken[p] != stamp) {
                taken[p] = stamp;
                drawn[n++] = p;
            }
        }
        for (int p = length - 1; n < target; p--) {
            if (taken[p] != stamp) {
                taken[p] = stamp;
                drawn[n++] = p;
            }
        }
        System.arraycopy(drawn, 0, row, 0, n);
        Arrays.sort(row, 0, n);
        return n;
    }

    private int pick(SplittableRandom rnd, int layer, int length) {
        double u = rnd.nextDouble();
        if ((u -= config.sinkShare()) < 0 && config.sinks() > 0) {
            return rnd.nextInt(Math.min(config.sinks(), length));
        }
        if ((u -= config.recentShare()) < 0) {
            double v = rnd.nextDouble();
            int distance = (int) (Math.min(config.recentWindow(), length) * v * v);
            return length - 1 - distance;
        }
        if ((u -= config.popularShare()) < 0) {
            int rank = Arrays.binarySearch(zipfCdf, rnd.nextDouble());
            rank = rank >= 0 ? rank : Math.min(-rank - 1, zipfCdf.length - 1);
            return Math.min(length - 1, spans[layer][rank] + rnd.nextInt(config.spanLength()));
        }
        int old = Math.max(1, length - config.recentWindow());
        return rnd.nextInt(old);
    }

    /** Replaces {@code drift} popular spans on average (the fraction by a coin). */
    private void drift(int layer, int length) {
        SplittableRandom rnd = random[layer];
        double d = config.drift();
        int replacements = (int) d + (rnd.nextDouble() < d - (int) d ? 1 : 0);
        for (int i = 0; i < replacements; i++) {
            int rank = rnd.nextInt(spans[layer].length);
            boolean recent = rnd.nextDouble() < config.driftRecent();
            spans[layer][rank] = recent ? recentSpan(rnd, length) : passage.length > 0 ? passageSpan(rnd, passage[layer]) : newSpan(rnd, length);
        }
    }

    /** Moves layer {@code layer}'s popular set to another passage: half the time one it attended before, if any. */
    private void revisit(int layer) {
        SplittableRandom rnd = random[layer];
        int n = config.passages();
        int current = passage[layer];
        int earlier = 0;
        for (int p = 0; p < n; p++) {
            earlier += visited[layer][p] && p != current ? 1 : 0;
        }
        boolean back = earlier > 0 && rnd.nextBoolean();
        int next;
        if (back) {
            int pick = rnd.nextInt(earlier);
            next = -1;
            for (int p = 0; p < n && pick >= 0; p++) {
                if (visited[layer][p] && p != current && pick-- == 0) {
                    next = p;
                }
            }
        } else {
            next = rnd.nextInt(n - 1);
            next += next >= current ? 1 : 0;
        }
        moveTo(layer, next);
    }

    /** Puts every popular span of {@code layer} in passage {@code p}. */
    private void moveTo(int layer, int p) {
        passage[layer] = p;
        visited[layer][p] = true;
        for (int r = 0; r < spans[layer].length; r++) {
            spans[layer][r] = passageSpan(random[layer], p);
        }
    }

    /** A span start inside passage {@code p} of the prompt (after the sinks). */
    private int passageSpan(SplittableRandom rnd, int p) {
        int body = config.promptLength() - config.sinks();
        int from = config.sinks() + (int) ((long) body * p / config.passages());
        int to = config.sinks() + (int) ((long) body * (p + 1) / config.passages()) - config.spanLength() + 1;
        return from + rnd.nextInt(Math.max(1, to - from));
    }

    /** A span start among the newest {@code 4 * recentWindow} tokens. */
    private int recentSpan(SplittableRandom rnd, int length) {
        int from = Math.max(Math.min(config.sinks(), length - 1), length - 4 * config.recentWindow());
        int to = Math.max(from + 1, length - config.spanLength() + 1);
        return from + rnd.nextInt(to - from);
    }

    /** A span start anywhere after the sinks in a sequence of {@code length} tokens. */
    private int newSpan(SplittableRandom rnd, int length) {
        int from = Math.min(config.sinks(), length - 1);
        int to = Math.max(from + 1, length - config.spanLength() + 1);
        return from + rnd.nextInt(to - from);
    }

    private static double[] zipf(int n, double exponent) {
        double[] cdf = new double[n];
        double sum = 0;
        for (int r = 0; r < n; r++) {
            sum += 1.0 / Math.pow(r + 1, exponent);
            cdf[r] = sum;
        }
        for (int r = 0; r < n; r++) {
            cdf[r] /= sum;
        }
        cdf[n - 1] = 1.0;
        return cdf;
    }

    /**
     * The generator's truth at the current step (after the last {@link #next}, or before the first for the prompt's
     * end): for each block of {@code layer}, the probability that one draw of a sequence of {@code length} tokens
     * lands in it, before de-duplication; they add up to 1 over the blocks. The knowledge an oracle placement has
     * that no policy learning from requests can have.
     *
     * @param out at least {@code ceil(length / blockSize)} entries; the rest are left alone
     */
    public void drawProbabilities(int layer, int length, double[] out) {
        int bs = config.layout().blockSize();
        int blocks = (length + bs - 1) / bs;
        int sinks = Math.min(config.sinks(), length);
        int window = Math.min(config.recentWindow(), length);
        int old = Math.max(1, length - config.recentWindow());
        // without sinks their share falls through to the recent tokens (see pick)
        double recentShare = config.recentShare() + (sinks == 0 ? config.sinkShare() : 0);
        for (int b = 0; b < blocks; b++) {
            int lo = b * bs;
            int hi = Math.min(length, lo + bs);
            double p = 0;
            if (sinks > 0) {
                p += config.sinkShare() * Math.max(0, Math.min(hi, sinks) - lo) / sinks;
            }
            // distance = floor(window * v^2) for v uniform: P(distance < d) = sqrt(d / window)
            int near = Math.min(window, length - hi);
            int far = Math.min(window, length - lo);
            p += recentShare * (Math.sqrt((double) far / window) - Math.sqrt((double) near / window));
            p += config.recallShare() * Math.max(0, Math.min(hi, old) - lo) / old;
            out[b] = p;
        }
        double previous = 0;
        for (int r = 0; r < zipfCdf.length; r++) {
            double share = config.popularShare() * (zipfCdf[r] - previous) / config.spanLength();
            previous = zipfCdf[r];
            for (int j = 0; j < config.spanLength(); j++) {
                out[Math.min(length - 1, spans[layer][r] + j) / bs] += share;
            }
        }
    }

    @Override
    public void close() {
    }
}

package io.tierkv.core.trace;

import io.tierkv.core.DType;
import io.tierkv.core.KvLayout;
import io.tierkv.core.policy.HierarchicalConfig;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;

/**
 * The knobs of {@link SyntheticTrace}, with every default in one place. Each top-k position of each
 * layer and step is drawn from one of four sources, by share: an attention sink, a recent token, a
 * member of a drifting popular set (Zipf over ranks), or a uniformly recalled old token.
 *
 * @param promptLength tokens before the first generated one ({@code --tokens})
 * @param steps        generated tokens
 * @param seed         the random seed: equal configurations give byte-identical traces
 * @param layout       the KV layout written to the header (for bytes per block)
 * @param topK         positions per layer and step
 * @param sinks        attention sinks at positions {@code 0 .. sinks-1}
 * @param recentWindow how far back "recent" reaches; distances are skewed toward the newest token
 * @param popularSpans size of each layer's popular set; each member is a span of {@code spanLength}
 *                     tokens (a phrase), ranked by a Zipf law
 * @param spanLength   tokens per popular span
 * @param zipfExponent the Zipf exponent over popular ranks (1 = classic)
 * @param drift        expected popular spans replaced per step and layer
 * @param driftRecent  share of replacements that start in the newest {@code 4 * recentWindow} tokens (what
 *                     the model just read or wrote becomes popular); the others land anywhere in the
 *                     sequence so far, which is a recall no evicting policy can serve
 * @param sinkShare    share of draws that pick a sink
 * @param recentShare  share of draws that pick a recent token
 * @param popularShare share of draws from the popular set
 * @param recallShare  share of draws that recall a uniformly random older token
 * @param revisitPeriod the revisit family ({@code --revisit}; 0: off): the prompt is cut into {@code passages}
 *                     passages and each layer's popular set lies in one of them, moving every {@code revisitPeriod}
 *                     steps to another, half the time one it attended before: attention returns to a passage read
 *                     hundreds of steps before (a reader going back to an earlier part of a document)
 * @param passages     passages of the revisit family ({@code >= 2} when it is on)
 */
public record SyntheticTraceConfig(int promptLength, int steps, long seed, KvLayout layout, int topK,
                                   int sinks, int recentWindow, int popularSpans, int spanLength, double zipfExponent,
                                   double drift, double driftRecent, double sinkShare, double recentShare, double popularShare, double recallShare,
                                   int revisitPeriod, int passages) {

    // ---- Defaults, in one place ----
    /** Llama-2-7B, the paper's model: 32 layers, 32 KV heads of 128, fp16. */
    public static final int DEFAULT_LAYERS = 32;
    public static final int DEFAULT_KV_HEADS = 32;
    public static final int DEFAULT_HEAD_DIM = 128;
    public static final DType DEFAULT_DTYPE = DType.F16;
    /** The block size of vLLM and Quest. */
    public static final int DEFAULT_BLOCK_SIZE = KvLayout.DEFAULT_BLOCK_SIZE;
    /** The hierarchical policy's default k, so a synthetic trace counts like the live policy. */
    public static final int DEFAULT_TOP_K = HierarchicalConfig.DEFAULT_TOP_K;
    /** StreamingLLM's four sinks. */
    public static final int DEFAULT_SINKS = 4;
    /** Recent tokens: four 16-token blocks. */
    public static final int DEFAULT_RECENT_WINDOW = 64;
    /** One popular span per 64 prompt tokens (128 for an 8k prompt), at least 16. */
    public static final int PROMPT_TOKENS_PER_POPULAR_SPAN = 64;
    public static final int MIN_POPULAR_SPANS = 16;
    public static final int DEFAULT_SPAN_LENGTH = 4;
    public static final double DEFAULT_ZIPF = 1.0;
    /** A quarter span a step: an 8k prompt's popular set turns over about twice in 1000 steps. */
    public static final double DEFAULT_DRIFT = 0.25;
    /** Half the new popular spans come from the newest tokens, half from anywhere. */
    public static final double DEFAULT_DRIFT_RECENT = 0.5;
    public static final double DEFAULT_SINK_SHARE = 0.10;
    public static final double DEFAULT_RECENT_SHARE = 0.30;
    public static final double DEFAULT_POPULAR_SHARE = 0.55;
    public static final double DEFAULT_RECALL_SHARE = 0.05;

    public SyntheticTraceConfig {
        if (promptLength < 1) {
            throw new IllegalArgumentException("promptLength (--tokens) must be >= 1, was " + promptLength);
        }
        if (steps < 0) {
            throw new IllegalArgumentException("steps must be >= 0, was " + steps);
        }
        if ((long) promptLength + steps > Integer.MAX_VALUE / 2) {
            throw new IllegalArgumentException("promptLength + steps too large: " + promptLength + " + " + steps);
        }
        if (layout == null) {
            throw new IllegalArgumentException("layout must not be null");
        }
        requirePositive("topK", topK);
        requirePositive("recentWindow", recentWindow);
        requirePositive("popularSpans", popularSpans);
        requirePositive("spanLength", spanLength);
        if (sinks < 0) {
            throw new IllegalArgumentException("sinks must be >= 0, was " + sinks);
        }
        if (!(zipfExponent >= 0) || !(drift >= 0)) {
            throw new IllegalArgumentException("zipfExponent and drift must be >= 0, were " + zipfExponent + " and " + drift);
        }
        if (!(driftRecent >= 0 && driftRecent <= 1)) {
            throw new IllegalArgumentException("driftRecent must be in [0, 1], was " + driftRecent);
        }
        double[] shares = {sinkShare, recentShare, popularShare, recallShare};
        double sum = 0;
        for (double s : shares) {
            if (!(s >= 0)) {
                throw new IllegalArgumentException("shares must be >= 0, were " + sinkShare + "/" + recentShare + "/" + popularShare + "/" + recallShare);
            }
            sum += s;
        }
        if (Math.abs(sum - 1) > 1e-6) {
            throw new IllegalArgumentException("sink, recent, popular and recall shares must add up to 1, add up to " + sum);
        }
        if (revisitPeriod < 0) {
            throw new IllegalArgumentException("revisit period (--revisit) must be >= 0 steps, was " + revisitPeriod);
        }
        if (revisitPeriod > 0 && (passages < 2 || (long) passages * spanLength > promptLength - sinks)) {
            throw new IllegalArgumentException("--passages must be >= 2 and leave each passage a span of " + spanLength
                    + " tokens of the " + (promptLength - sinks) + " after the sinks, was " + passages);
        }
    }

    /** Passages by default in the revisit family. */
    public static final int DEFAULT_PASSAGES = 8;

    /** The same configuration in the revisit family: the popular set moves between {@code n} passages every {@code period} steps. */
    public SyntheticTraceConfig withRevisits(int period, int n) {
        return new SyntheticTraceConfig(promptLength, steps, seed, layout, topK, sinks, recentWindow, popularSpans, spanLength,
                zipfExponent, drift, driftRecent, sinkShare, recentShare, popularShare, recallShare, period, n);
    }

    /** The defaults for a prompt of {@code promptLength} tokens and {@code steps} generated ones. */
    public static SyntheticTraceConfig defaults(int promptLength, int steps, long seed) {
        return new SyntheticTraceConfig(promptLength, steps, seed,
                new KvLayout(DEFAULT_LAYERS, DEFAULT_KV_HEADS, DEFAULT_HEAD_DIM, DEFAULT_DTYPE, DEFAULT_BLOCK_SIZE),
                DEFAULT_TOP_K, DEFAULT_SINKS, DEFAULT_RECENT_WINDOW,
                Math.max(MIN_POPULAR_SPANS, promptLength / PROMPT_TOKENS_PER_POPULAR_SPAN), DEFAULT_SPAN_LENGTH,
                DEFAULT_ZIPF, DEFAULT_DRIFT, DEFAULT_DRIFT_RECENT, DEFAULT_SINK_SHARE, DEFAULT_RECENT_SHARE, DEFAULT_POPULAR_SHARE, DEFAULT_RECALL_SHARE,
                0, DEFAULT_PASSAGES);
    }

    public SyntheticTraceConfig withLayout(KvLayout l) {
        return new SyntheticTraceConfig(promptLength, steps, seed, l, topK, sinks, recentWindow, popularSpans, spanLength,
                zipfExponent, drift, driftRecent, sinkShare, recentShare, popularShare, recallShare, revisitPeriod, passages);
    }

    public SyntheticTraceConfig withTopK(int k) {
        return new SyntheticTraceConfig(promptLength, steps, seed, layout, k, sinks, recentWindow, popularSpans, spanLength,
                zipfExponent, drift, driftRecent, sinkShare, recentShare, popularShare, recallShare, revisitPeriod, passages);
    }

    /** The same configuration with other popular-set parameters. */
    public SyntheticTraceConfig withPopular(int spans, int span, double zipf, double driftPerStep, double fromRecent) {
        return new SyntheticTraceConfig(promptLength, steps, seed, layout, topK, sinks, recentWindow, spans, span,
                zipf, driftPerStep, fromRecent, sinkShare, recentShare, popularShare, recallShare, revisitPeriod, passages);
    }

    /** The same configuration with other sink count, recent window and source shares. */
    public SyntheticTraceConfig withSources(int sinkCount, int recent, double sink, double rec, double popular, double recall) {
        return new SyntheticTraceConfig(promptLength, steps, seed, layout, topK, sinkCount, recent, popularSpans, spanLength,
                zipfExponent, drift, driftRecent, sink, rec, popular, recall, revisitPeriod, passages);
    }

    /** The header's source text: everything needed to regenerate the trace. */
    public String describe() {
        return String.format(Locale.ROOT, "synth seed=%d tokens=%d steps=%d k=%d sinks=%d recent=%d popular=%dx%d zipf=%s drift=%s"
                        + " driftRecent=%s shares=%s/%s/%s/%s", seed, promptLength, steps, topK, sinks, recentWindow, popularSpans,
                spanLength, zipfExponent, drift, driftRecent, sinkShare, recentShare, popularShare, recallShare)
                + (revisitPeriod > 0 ? " revisit=" + revisitPeriod + " passages=" + passages : "");
    }

    /**
     * The configuration {@link #describe()} wrote into a trace's header, on the header's layout: the way back from
     * a trace file to its generator.
     *
     * @throws IllegalArgumentException naming what is missing or malformed when {@code source} is no synthetic
     *                                  trace's description
     */
    public static SyntheticTraceConfig parse(String source, KvLayout layout) {
        if (source == null || !source.startsWith("synth ")) {
            throw new IllegalArgumentException("not a synthetic trace's description (it starts with 'synth '): '" + source + "'");
        }
        Map<String, String> kv = new HashMap<>();
        for (String part : source.substring(6).trim().split("\\s+")) {
            int eq = part.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("malformed synthetic trace description, '" + part + "' is no key=value: '" + source + "'");
            }
            kv.put(part.substring(0, eq), part.substring(eq + 1));
        }
        try {
            String[] popular = value(kv, "popular").split("x");
            String[] shares = value(kv, "shares").split("/");
            if (popular.length != 2 || shares.length != 4) {
                throw new IllegalArgumentException("popular=NxL and shares=a/b/c/d expected");
            }
            return new SyntheticTraceConfig(Integer.parseInt(value(kv, "tokens")), Integer.parseInt(value(kv, "steps")),
                    Long.parseLong(value(kv, "seed")), layout, Integer.parseInt(value(kv, "k")),
                    Integer.parseInt(value(kv, "sinks")), Integer.parseInt(value(kv, "recent")),
                    Integer.parseInt(popular[0]), Integer.parseInt(popular[1]), Double.parseDouble(value(kv, "zipf")),
                    Double.parseDouble(value(kv, "drift")), Double.parseDouble(value(kv, "driftRecent")),
                    Double.parseDouble(shares[0]), Double.parseDouble(shares[1]), Double.parseDouble(shares[2]), Double.parseDouble(shares[3]),
                    Integer.parseInt(kv.getOrDefault("revisit", "0")), Integer.parseInt(kv.getOrDefault("passages", String.valueOf(DEFAULT_PASSAGES))));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("malformed synthetic trace description (" + e.getMessage() + "): '" + source + "'", e);
        }
    }

    private static String value(Map<String, String> kv, String key) {
        String v = kv.get(key);
        if (v == null) {
            throw new IllegalArgumentException("no " + key + "=");
        }
        return v;
    }

    private static void requirePositive(String name, int value) {
        if (value <= 0) {
            throw new IllegalArgumentException(name + " must be > 0, was " + value);
        }
    }
}

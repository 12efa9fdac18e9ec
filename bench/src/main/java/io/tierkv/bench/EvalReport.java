package io.tierkv.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.tierkv.bench.report.LevelHeatmap;
import io.tierkv.bench.report.LineChart;
import io.tierkv.bench.report.Report;
import io.tierkv.bench.report.ResidencyChart;
import io.tierkv.model.eval.EvalResult;
import io.tierkv.model.eval.EvalRow;
import io.tierkv.model.eval.EvalSettings;
import io.tierkv.model.generate.PrefillMode;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/** Writes an evaluation's eval.json, eval.csv, eval.jsonl and plots, and prints the paper-style tables. */
final class EvalReport {
    private EvalReport() {
    }

    static Report table(EvalResult r, Path model, Map<String, Object> run) {
        EvalSettings s = r.settings();
        Report rep = new Report("eval")
                .setting("model", model.toString())
                .setting("run", run)
                .setting("promptsPerPosition", s.promptsPerPosition())
                .setting("policies", s.policies())
                .setting("budget", s.budget())
                .setting("mode", s.mode().name().toLowerCase(Locale.ROOT))
                .setting("rounds", s.rounds())
                .setting("seed", s.seed())
                .setting("blockSize", s.blockSize())
                .setting("chunk", s.chunk())
                .setting("maxTokens", s.maxTokens())
                .setting("task", s.task())
                .column("policy", "policy", "%s", "KV policy spec")
                .column("position", "questions", "%s", "round 1's questions before or after the passage")
                .column("round", "round", "%s", "round of questions (1 = the prompt's own), or all")
                .column("questionType", "type", "%s", "question type, or all")
                .column("correct", "correct", "%d", "questions answered exactly")
                .column("total", "total", "%d", "questions asked")
                .column("accuracy", "accuracy", "%.3f", "correct / total")
                .column("kvKeptMean", "KV kept", "%.3f", "live tokens per layer during generation / sequence length, mean over prompts")
                .column("kvKeptPeak", "KV peak", "%.3f", "largest live tokens per layer / round 1's prompt length")
                .column("deviceBytesPeak", "device peak B", "%d", "most device-tier bytes held at once (whole sessions)")
                .column("deviceBudgetPeak", "of budget", "%.3f", "device peak / that prompt's device budget, worst prompt")
                .column("deviceAttentionShare", "device attn", "%.3f",
                        "attention probability on device-resident keys, head-averaged, mean over the queries attended through the tiered cache")
                .column("deviceAttentionBound", "attn bound", "%.3f",
                        "the device attention share the same number of device blocks would reach as each query's most attended blocks")
                .column("deviceAttentionTokenBound", "token bound", "%.3f",
                        "the device attention share the same number of device keys would reach as each query's most attended keys")
                .column("deviceTopkShare", "device top-8", "%.3f", "share of each head's 8 most attended positions that were on the device")
                .column("h2dBytes", "h2d B/prompt", "%.0f", "bytes host to device during the round (all: the session), mean per prompt")
                .column("d2hBytes", "d2h B/prompt", "%.0f", "bytes device to host during the round (all: the session), mean per prompt")
                .column("h2dPerToken", "h2d B/tok", "%.0f", "h2dBytes per generated token")
                .column("d2hPerToken", "d2h B/tok", "%.0f", "d2hBytes per generated token")
                .column("prefillH2d", "prefill h2d B", "%.0f", "session bytes host to device while prompt tokens went in, mean")
                .column("prefillD2h", "prefill d2h B", "%.0f", "session bytes device to host while prompt tokens went in, mean")
                .column("decodeH2d", "decode h2d B", "%.0f", "session bytes host to device while generating, mean")
                .column("decodeD2h", "decode d2h B", "%.0f", "session bytes device to host while generating, mean")
                .column("promotions", "recalls", "%.1f", "blocks recalled host to device per session, mean")
                .column("frees", "frees", "%.1f", "blocks freed (evicted or dropped) per session, mean")
                .column("stallMs", "stall ms", "%.2f", "time waiting for copies per session, mean")
                .column("hostAttentionMs", "host attn ms", "%.2f", "time attending the host tier per prompt (gather + its share of the merge)")
                .column("tpotP50Ms", "TPOT p50 ms", "%.2f", "time per output token, median over decode steps")
                .column("tpotP90Ms", "TPOT p90 ms", "%.2f", "time per output token, 90th percentile")
                .column("tpotP99Ms", "TPOT p99 ms", "%.2f", "time per output token, 99th percentile")
                .column("tokensPerSecond", "decode tok/s", "%.1f", "generated tokens per second (decode)")
                .column("hostReadFraction", "host read", "%.3f", "host bytes read by decode steps / bytes an exact read would read")
                .column("digestRecall", "digest recall", "%.3f", "share of the true top-k host positions in the selected blocks (digest mode)")
                .column("digestRecallByLayer", "recall by layer", "%s", "digestRecall per layer")
                .column("digestBytesPeak", "digest B", "%d", "most bytes the block digests held at once (device tier)");
        for (EvalRow row : r.rows()) {
            if (row.total() == 0) { // a cell no prompt reached (a question type none drew): nothing in it was measured
                Object[] unmeasured = new Object[rep.columns().size()];
                Object[] key = {row.policy(), row.position(), row.round(), row.questionType(), 0, 0};
                System.arraycopy(key, 0, unmeasured, 0, key.length);
                rep.row(unmeasured);
                continue;
            }
            rep.row(row.policy(), row.position(), row.round(), row.questionType(), row.correct(), row.total(), row.accuracy(),
                    row.kvKeptMean(), row.kvKeptPeak(), row.deviceBytesPeak(), row.deviceBudgetPeak(), row.deviceAttentionShare(),
                    row.deviceAttentionBound(), row.deviceAttentionTokenBound(), row.deviceTopkShare(), row.h2dBytes(), row.d2hBytes(), row.h2dPerToken(), row.d2hPerToken(), row.prefillH2d(),
                    row.prefillD2h(), row.decodeH2d(), row.decodeD2h(), row.promotions(), row.frees(), row.stallMs(),
                    row.hostAttentionMs(), row.tpotP50Ms(), row.tpotP90Ms(), row.tpotP99Ms(), row.tokensPerSecond(),
                    row.hostReadFraction(), row.digestRecall(), row.digestRecallByLayer(), row.digestBytesPeak());
        }
        return rep;
    }

    static void write(EvalResult r, Path model, Map<String, Object> run, Path out) throws IOException {
        write(r, model, run, null, out);
    }

    /** Writes the report; {@code remote}, when not null, is the remote tier's figures (eval.json's {@code remote}). */
    static void write(EvalResult r, Path model, Map<String, Object> run, Map<String, Object> remote, Path out) throws IOException {
        Report rep = table(r, model, run);
        if (remote != null) {
            rep.setting("remote", remote);
        }
        rep.writeJson(out.resolve("eval.json"));
        rep.writeCsv(out.resolve("eval.csv"));
        writeJsonl(r, out.resolve("eval.jsonl"));
        if (!r.sizeCurves().isEmpty()) {
            boolean chunked = r.settings().mode() == PrefillMode.CHUNKED;
            String steps = chunked || r.settings().rounds() > 1 ? "step (prompt chunks and generated tokens)" : "generated token";
            for (String position : new String[] {"before", "after"}) {
                LineChart chart = new LineChart("KV size over time, questions " + position + " the passage"
                        + (r.settings().rounds() > 1 ? ", " + r.settings().rounds() + " rounds" : ""),
                        steps, "live tokens per layer (mean over the prompts still running)");
                List<EvalResult.SizeCurve> curves = new ArrayList<>();
                for (EvalResult.SizeCurve c : r.sizeCurves()) {
                    if (c.position().equals(position)) {
                        curves.add(c);
                    }
                }
                for (EvalResult.SizeCurve c : curves) {
                    double[] x = new double[c.kept().length];
                    for (int i = 0; i < x.length; i++) {
                        x[i] = i;
                    }
                    chart.add(new LineChart.Series(c.policy(), x, c.kept()));
                }
                chart.distinguishOverlaps(true);
                chart.write(out.resolve("kv-size-" + position + ".png"), 900, 560);
            }
            for (EvalResult.PopularitySnapshot p : r.popularity()) {
                String name = "popularity-" + safe(p.policy()) + "-" + p.position() + ".png";
                LevelHeatmap.write(out.resolve(name), "Token levels, " + p.policy() + ", questions " + p.position() + " (" + p.questionType()
                        + ", last layer)", steps, p.levels(), 900, 600);
            }
            for (EvalResult.ResidencyTrace t : r.residency()) {
                String name = "residency-" + safe(t.policy()) + "-" + t.position() + ".png";
                ResidencyChart.write(out.resolve(name), "Where the KV is, " + t.policy() + ", questions " + t.position()
                        + " (first prompt, " + Math.round(100 * r.settings().budget()) + "% device budget)", steps, t.steps(), 900, 520);
            }
        }
    }

    private static String safe(String policy) {
        return policy.replaceAll("[^A-Za-z0-9._-]", "_");
    }

    /** One JSON object per line: one prompt through one policy. */
    static void writeJsonl(EvalResult r, Path file) throws IOException {
        ObjectMapper mapper = new ObjectMapper();
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        try (BufferedWriter w = Files.newBufferedWriter(file)) {
            for (EvalResult.PromptLine line : r.prompts()) {
                w.write(mapper.writeValueAsString(nanToNull(line)));
                w.newLine();
            }
        }
    }

    /** Jackson writes NaN as a bare token that JSON parsers reject: round-trip through a tree and null them. */
    private static Object nanToNull(Object value) {
        ObjectMapper m = new ObjectMapper();
        com.fasterxml.jackson.databind.JsonNode tree = m.valueToTree(value);
        replaceNaN(tree);
        return tree;
    }

    private static void replaceNaN(com.fasterxml.jackson.databind.JsonNode node) {
        if (node instanceof com.fasterxml.jackson.databind.node.ObjectNode o) {
            List<String> names = new ArrayList<>();
            o.fieldNames().forEachRemaining(names::add);
            for (String n : names) {
                com.fasterxml.jackson.databind.JsonNode child = o.get(n);
                if (child.isNumber() && !Double.isFinite(child.asDouble())) {
                    o.putNull(n);
                } else {
                    replaceNaN(child);
                }
            }
        } else if (node instanceof com.fasterxml.jackson.databind.node.ArrayNode a) {
            for (int i = 0; i < a.size(); i++) {
                com.fasterxml.jackson.databind.JsonNode child = a.get(i);
                if (child.isNumber() && !Double.isFinite(child.asDouble())) {
                    a.set(i, com.fasterxml.jackson.databind.node.NullNode.getInstance());
                } else {
                    replaceNaN(child);
                }
            }
        }
    }

    /**
     * The paper's table for each round (round 1's questions before or after the passage), then accuracy per
     * question type over all rounds.
     */
    static String paperTable(EvalResult r) {
        StringBuilder sb = new StringBuilder();
        Set<String> policies = new LinkedHashSet<>(r.settings().policies());
        List<String> rounds = new ArrayList<>();
        for (int i = 1; i <= r.settings().rounds(); i++) {
            rounds.add(Integer.toString(i));
        }
        if (r.settings().rounds() > 1) {
            rounds.add("all");
        }
        for (String round : rounds) {
            if (r.settings().rounds() > 1) {
                sb.append(String.format(Locale.ROOT, "%sRound %s%s:%n", sb.length() == 0 ? "" : "\n", round,
                        round.equals("all") ? " (the whole sessions: their B/tok include the copies made while the first prompt went in)" : ""));
            }
            sb.append(String.format(Locale.ROOT, "| %-22s | %-16s | %-16s | %-8s | %-22s | %-11s | %-10s | %-9s | %-9s | %-12s |%n",
                    "policy", "questions before", "questions after", "KV kept", "device peak (of budget)", "device attn", "attn bound",
                    "h2d B/tok", "d2h B/tok", "decode tok/s"));
            sb.append("|------------------------|------------------|------------------|----------|------------------------|"
                    + "-------------|------------|-----------|-----------|--------------|\n");
            for (String p : policies) {
                EvalRow b = r.row(p, "before", round, "all");
                EvalRow a = r.row(p, "after", round, "all");
                sb.append(String.format(Locale.ROOT, "| %-22s | %5.1f%% (%3d/%3d) | %5.1f%% (%3d/%3d) | %7.1f%% | %13s (%5.1f%%) | %11s |"
                                + " %10s | %9.0f | %9.0f | %12.1f |%n", p,
                        100 * b.accuracy(), b.correct(), b.total(), 100 * a.accuracy(), a.correct(), a.total(),
                        50 * (b.kvKeptMean() + a.kvKeptMean()), Bytes.format(Math.max(b.deviceBytesPeak(), a.deviceBytesPeak())),
                        100 * Math.max(b.deviceBudgetPeak(), a.deviceBudgetPeak()),
                        share(b.deviceAttentionShare(), a.deviceAttentionShare()),
                        share(b.deviceAttentionBound(), a.deviceAttentionBound()),
                        (b.h2dPerToken() + a.h2dPerToken()) / 2, (b.d2hPerToken() + a.d2hPerToken()) / 2,
                        (b.tokensPerSecond() + a.tokensPerSecond()) / 2));
            }
        }
        sb.append(String.format(Locale.ROOT, "%nAccuracy by question type%s (before / after):%n",
                r.settings().rounds() > 1 ? ", all rounds" : ""));
        sb.append(String.format(Locale.ROOT, "| %-22s | %-13s | %-13s | %-13s | %-13s |%n", "policy", "true/false", "fill blank",
                "multi choice", "matching"));
        sb.append("|------------------------|---------------|---------------|---------------|---------------|\n");
        for (String p : policies) {
            sb.append(String.format(Locale.ROOT, "| %-22s |", p));
            for (String t : new String[] {"tf", "fill", "mc", "match"}) {
                EvalRow b = r.row(p, "before", "all", t);
                EvalRow a = r.row(p, "after", "all", t);
                sb.append(String.format(Locale.ROOT, " %5s / %5s |", percent(b), percent(a)));
            }
            sb.append('\n');
        }
        return sb.toString();
    }

    /** A row's accuracy in percent, "-" when it holds no question (a type the prompts drew none of). */
    static String percent(EvalRow row) {
        return row.total() == 0 ? "-" : String.format(Locale.ROOT, "%.1f", 100 * row.accuracy());
    }

    /** The mean of two shares as a percentage, "-" when neither was measured. */
    private static String share(double a, double b) {
        if (!Double.isFinite(a) && !Double.isFinite(b)) {
            return "-";
        }
        double v = !Double.isFinite(a) ? b : !Double.isFinite(b) ? a : (a + b) / 2;
        return String.format(Locale.ROOT, "%.1f%%", 100 * v);
    }
}

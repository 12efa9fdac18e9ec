package io.tierkv.bench;

import io.tierkv.bench.report.LevelHeatmap;
import io.tierkv.bench.report.LineChart;
import io.tierkv.bench.report.Report;
import io.tierkv.model.eval.EvalResult;
import io.tierkv.model.eval.EvalRow;
import io.tierkv.model.eval.EvalSettings;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.Locale;
import java.util.Set;

/** Writes an evaluation's eval.json, eval.csv and plots, and prints the paper-style table. */
final class EvalReport {
    private EvalReport() {
    }

    static Report table(EvalResult r, Path model) {
        EvalSettings s = r.settings();
        Report rep = new Report("eval")
                .setting("model", model.toString())
                .setting("promptsPerPosition", s.promptsPerPosition())
                .setting("policies", s.policies())
                .setting("budget", s.budget())
                .setting("mode", s.mode().name().toLowerCase(Locale.ROOT))
                .setting("seed", s.seed())
                .setting("blockSize", s.blockSize())
                .setting("chunk", s.chunk())
                .setting("maxTokens", s.maxTokens())
                .setting("task", s.task())
                .column("policy", "policy", "%s", "KV policy spec")
                .column("position", "questions", "%s", "questions before or after the passage")
                .column("questionType", "type", "%s", "question type, or all")
                .column("correct", "correct", "%d", "questions answered exactly")
                .column("total", "total", "%d", "questions asked")
                .column("accuracy", "accuracy", "%.3f", "correct / total")
                .column("kvKeptMean", "KV kept", "%.3f", "live tokens per layer during generation / sequence length, mean over prompts")
                .column("kvKeptPeak", "KV peak", "%.3f", "largest live tokens per layer / prompt length")
                .column("deviceBytesPeak", "device peak B", "%d", "most device-tier bytes held at once")
                .column("deviceBudgetPeak", "of budget", "%.3f", "device peak / that prompt's device budget, worst prompt")
                .column("h2dBytes", "h2d B/prompt", "%.0f", "bytes promoted host to device, mean per prompt")
                .column("d2hBytes", "d2h B/prompt", "%.0f", "bytes demoted device to host, mean per prompt")
                .column("tokensPerSecond", "decode tok/s", "%.1f", "generated tokens per second (decode)")
                .column("hostReadFraction", "host read", "%.3f", "host bytes read by decode steps / bytes an exact read would read")
                .column("digestRecall", "digest recall", "%.3f", "share of the true top-k host positions in the selected blocks (digest mode)")
                .column("digestRecallByLayer", "recall by layer", "%s", "digestRecall per layer")
                .column("digestBytesPeak", "digest B", "%d", "most bytes the block digests held at once (device tier)");
        for (EvalRow row : r.rows()) {
            rep.row(row.policy(), row.position(), row.questionType(), row.correct(), row.total(), row.accuracy(), row.kvKeptMean(),
                    row.kvKeptPeak(), row.deviceBytesPeak(), row.deviceBudgetPeak(), row.h2dBytes(), row.d2hBytes(), row.tokensPerSecond(),
                    row.hostReadFraction(), row.digestRecall(), row.digestRecallByLayer(), row.digestBytesPeak());
        }
        return rep;
    }

    static void write(EvalResult r, Path model, Path out) throws IOException {
        Report rep = table(r, model);
        rep.writeJson(out.resolve("eval.json"));
        rep.writeCsv(out.resolve("eval.csv"));
        if (!r.sizeCurves().isEmpty()) {
            for (String position : new String[] {"before", "after"}) {
                LineChart chart = new LineChart("KV size over time, questions " + position + " the passage",
                        r.settings().mode() == io.tierkv.model.generate.PrefillMode.CHUNKED ? "step (prompt chunks, then generated tokens)"
                                : "generated token", "live tokens per layer (mean over prompts)");
                for (EvalResult.SizeCurve c : r.sizeCurves()) {
                    if (c.position().equals(position)) {
                        double[] x = new double[c.kept().length];
                        for (int i = 0; i < x.length; i++) {
                            x[i] = i;
                        }
                        chart.add(new LineChart.Series(c.policy(), x, c.kept()));
                    }
                }
                chart.write(out.resolve("kv-size-" + position + ".png"), 900, 560);
            }
            for (EvalResult.PopularitySnapshot p : r.popularity()) {
                String name = "popularity-" + p.policy().replaceAll("[^A-Za-z0-9._-]", "_") + "-" + p.position() + ".png";
                LevelHeatmap.write(out.resolve(name), "Token levels, " + p.policy() + ", questions " + p.position() + " (" + p.questionType()
                        + ", last layer)", "step", p.levels(), 900, 600);
            }
        }
    }

    /** The paper's table: accuracy per policy and position, then per question type. */
    static String paperTable(EvalResult r) {
        StringBuilder sb = new StringBuilder();
        Set<String> policies = new LinkedHashSet<>(r.settings().policies());
        sb.append(String.format(Locale.ROOT, "| %-22s | %-16s | %-16s | %-9s | %-22s | %-12s |%n", "policy",
                "questions before", "questions after", "KV kept", "device peak (of budget)", "decode tok/s"));
        sb.append("|------------------------|------------------|------------------|-----------|------------------------|--------------|\n");
        for (String p : policies) {
            EvalRow b = r.row(p, "before", "all");
            EvalRow a = r.row(p, "after", "all");
            sb.append(String.format(Locale.ROOT, "| %-22s | %5.1f%% (%3d/%3d) | %5.1f%% (%3d/%3d) | %8.1f%% | %13s (%5.1f%%) | %12.1f |%n", p,
                    100 * b.accuracy(), b.correct(), b.total(), 100 * a.accuracy(), a.correct(), a.total(),
                    50 * (b.kvKeptMean() + a.kvKeptMean()), Bytes.format(Math.max(b.deviceBytesPeak(), a.deviceBytesPeak())),
                    100 * Math.max(b.deviceBudgetPeak(), a.deviceBudgetPeak()),
                    (b.tokensPerSecond() + a.tokensPerSecond()) / 2));
        }
        sb.append(String.format(Locale.ROOT, "%nAccuracy by question type (before / after):%n"));
        sb.append(String.format(Locale.ROOT, "| %-22s | %-13s | %-13s | %-13s | %-13s |%n", "policy", "true/false", "fill blank",
                "multi choice", "matching"));
        sb.append("|------------------------|---------------|---------------|---------------|---------------|\n");
        for (String p : policies) {
            sb.append(String.format(Locale.ROOT, "| %-22s |", p));
            for (String t : new String[] {"tf", "fill", "mc", "match"}) {
                EvalRow b = r.row(p, "before", t);
                EvalRow a = r.row(p, "after", t);
                sb.append(String.format(Locale.ROOT, " %5.1f / %5.1f |", 100 * b.accuracy(), 100 * a.accuracy()));
            }
            sb.append('\n');
        }
        return sb.toString();
    }
}

package io.tierkv.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tierkv.bench.report.LineChart;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

/**
 * {@code tierkv host-read-curve}: accuracy against host bytes read, from several {@code eval} runs of the same
 * prompts at different {@code --host-read} settings (exact, digest:blocks=1, 2, 4, 8, ...). One point per run,
 * one line per policy, question position and digest family (the run's {@code --host-read} without its
 * {@code blocks=} and {@code slices=}, from {@code settings.run.hostRead}); an {@code exact} run's point, at 100%,
 * joins every family's line of its policy and position. Writes host-read-curve.png and host-read-curve.csv.
 */
@Command(name = "host-read-curve", mixinStandardHelpOptions = true,
        description = {"Accuracy against the share of host bytes read, one point per eval run (eval.json files or their"
            + " directories), one line per policy and question position. Writes DIR/host-read-curve.png and .csv."})
final class HostReadCurveCommand implements Callable<Integer> {
    @Mixin
    OutputOption output;

    @Parameters(arity = "1..*", paramLabel = "EVAL", description = "eval.json files, or directories holding one.")
    List<Path> evals;

    @Override
    public Integer call() throws IOException {
        ObjectMapper json = new ObjectMapper();
        Map<String, TreeMap<Double, Double>> lines = new TreeMap<>();
        Map<String, TreeMap<Double, Double>> exact = new TreeMap<>();
        StringBuilder csv = new StringBuilder("run,hostRead,policy,position,hostReadFraction,accuracy\n");
        for (Path p : evals) {
            Path file = Files.isDirectory(p) ? p.resolve("eval.json") : p;
            if (!Files.isRegularFile(file)) {
                throw new IllegalArgumentException(p + ": no eval.json there");
            }
            JsonNode report = json.readTree(file.toFile());
            JsonNode rows = report.path("rows");
            String hostRead = report.path("settings").path("run").path("hostRead").asText("");
            String family = family(hostRead);
            if (!rows.isArray()) {
                throw new IllegalArgumentException(file + ": not an eval report (no rows)");
            }
            for (JsonNode r : rows) {
                if (!"all".equals(r.path("questionType").asText()) || !r.hasNonNull("hostReadFraction")
                        || !r.path("round").asText("all").equals("all")) { // one row per run: every round together
                    continue;
                }
                String key = r.path("policy").asText() + ", questions " + r.path("position").asText();
                double x = 100 * r.path("hostReadFraction").asDouble();
                double y = 100 * r.path("accuracy").asDouble();
                if (family.equals("exact")) {
                    exact.computeIfAbsent(key, k -> new TreeMap<>()).put(x, y);
                } else {
                    lines.computeIfAbsent(key + (family.isEmpty() ? "" : ", " + family), k -> new TreeMap<>()).put(x, y);
                }
                csv.append(String.format(Locale.ROOT, "%s,\"%s\",%s,%s,%.4f,%.4f%n", file.getParent(), hostRead, r.path("policy").asText(),
                        r.path("position").asText(), x / 100, y / 100));
            }
        }
        for (Map.Entry<String, TreeMap<Double, Double>> e : exact.entrySet()) {
            boolean joined = false;
            for (Map.Entry<String, TreeMap<Double, Double>> line : lines.entrySet()) {
                if (line.getKey().equals(e.getKey()) || line.getKey().startsWith(e.getKey() + ", ")) {
                    line.getValue().putAll(e.getValue());
                    joined = true;
                }
            }
            if (!joined) {
                lines.put(e.getKey() + ", exact", e.getValue());
            }
        }
        if (lines.isEmpty()) {
            throw new IllegalArgumentException("no rows with hostReadFraction in " + evals);
        }
        LineChart chart = new LineChart("Accuracy against host bytes read (blocks' worth read per layer and step; exact at 100%)",
                "host bytes read, % of an exact read (log scale)", "accuracy, %").logX(true).fitY(true);
        for (Map.Entry<String, TreeMap<Double, Double>> e : lines.entrySet()) {
            List<Double> xs = new ArrayList<>(e.getValue().keySet());
            double[] x = xs.stream().mapToDouble(Double::doubleValue).toArray();
            double[] y = e.getValue().values().stream().mapToDouble(Double::doubleValue).toArray();
            chart.add(new LineChart.Series(e.getKey(), x, y));
        }
        Path dir = output.dir("host-read-curve");
        Files.createDirectories(dir);
        chart.write(dir.resolve("host-read-curve.png"), 900, 560);
        Files.writeString(dir.resolve("host-read-curve.csv"), csv);
        System.out.print(csv);
        System.out.println("wrote " + dir.resolve("host-read-curve.png"));
        return 0;
    }

    /**
     * A run's digest family: its {@code --host-read} without {@code blocks=} and {@code slices=} ({@code digest (Quest
     * blocks)} for Quest's whole blocks), {@code exact}, or empty when the run did not record it.
     */
    static String family(String hostRead) {
        if (hostRead.isEmpty() || hostRead.equals("exact")) {
            return hostRead;
        }
        StringBuilder sb = new StringBuilder();
        int colon = hostRead.indexOf(':');
        if (colon >= 0) {
            for (String option : hostRead.substring(colon + 1).split(",")) {
                if (!option.startsWith("blocks=") && !option.startsWith("slices=")) {
                    sb.append(sb.length() == 0 ? "" : ",").append(option);
                }
            }
        }
        return sb.length() == 0 ? "digest (Quest blocks)" : "digest:" + sb;
    }
}

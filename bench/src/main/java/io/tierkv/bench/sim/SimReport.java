package io.tierkv.bench.sim;

import io.tierkv.bench.report.LineChart;
import io.tierkv.bench.report.Report;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Turns simulation rows into the shared {@link Report} (every {@link SimMetric} a column) and the two
 * plots: device hit ratio and bytes moved per generated token against the budget, one line per policy.
 */
public final class SimReport {
    /** The columns of the terminal summary. */
    static final String[] SUMMARY = {
        SimMetric.POLICY.field(), SimMetric.BUDGET.field(), SimMetric.HIT_RATIO.field(), SimMetric.MISSES_PER_TOKEN.field(),
        SimMetric.LOST_PER_TOKEN.field(), "h2dMiBPerToken", "d2hMiBPerToken",
        SimMetric.MISS_RATIO_TO_CLAIRVOYANT.field(), SimMetric.BYTES_RATIO_TO_CLAIRVOYANT.field()
    };

    /** ... and, for a sparse host read ({@code --host-read digest}), what it read. */
    static final String[] SUMMARY_DIGEST = {
        SimMetric.POLICY.field(), SimMetric.BUDGET.field(), SimMetric.HIT_RATIO.field(), SimMetric.MISSES_PER_TOKEN.field(),
        SimMetric.LOST_PER_TOKEN.field(), "h2dMiBPerToken", "d2hMiBPerToken", "hostReadMiBPerToken",
        SimMetric.HOST_READ_FRACTION.field(), SimMetric.MISS_RATIO_TO_CLAIRVOYANT.field(), SimMetric.BYTES_RATIO_TO_CLAIRVOYANT.field()
    };

    private SimReport() {
    }

    /** The report: settings first, then one row per result with every metric (plus MiB columns for the table). */
    public static Report report(List<SimResult> results, Map<String, Object> settings) {
        Report r = new Report("simulate");
        settings.forEach(r::setting);
        for (SimMetric m : SimMetric.values()) {
            r.column(m.field(), title(m), m.format(), m.description());
        }
        // three significant digits: a small model's trace moves a few KiB per token, which "%.2f" MiB printed as 0.00
        r.column("h2dMiBPerToken", "h2d MiB/tok", "%.3g", "h2dBytesPerToken in MiB");
        r.column("d2hMiBPerToken", "d2h MiB/tok", "%.3g", "d2hBytesPerToken in MiB");
        r.column("hostReadMiBPerToken", "host read MiB/tok", "%.3g", "hostBytesReadPerToken in MiB");
        for (SimResult s : results) {
            Object[] row = new Object[SimMetric.values().length + 3];
            for (SimMetric m : SimMetric.values()) {
                row[m.ordinal()] = m.of(s);
            }
            row[row.length - 3] = s.h2dBytesPerToken() / (1 << 20);
            row[row.length - 2] = s.d2hBytesPerToken() / (1 << 20);
            row[row.length - 1] = ((Number) SimMetric.HOST_BYTES_READ_PER_TOKEN.of(s)).doubleValue() / (1 << 20);
            r.row(row);
        }
        return r;
    }

    /** The Markdown table printed on the terminal; {@code sparse}: the host was read sparsely, say how much. */
    public static String summary(Report report, boolean sparse) {
        return report.markdown(sparse ? SUMMARY_DIGEST : SUMMARY);
    }

    /** Writes hit-ratio.png and bytes-per-token.png into {@code dir}; returns the files. */
    public static List<Path> plots(List<SimResult> results, String traceName, Path dir) throws IOException {
        Map<String, List<SimResult>> byPolicy = new LinkedHashMap<>();
        for (SimResult s : results) {
            byPolicy.computeIfAbsent(s.policy(), k -> new ArrayList<>()).add(s);
        }
        LineChart hits = new LineChart("Device hit ratio - " + traceName, "device budget (share of the final KV)", "device hit ratio");
        LineChart bytes = new LineChart("Bytes moved per generated token - " + traceName, "device budget (share of the final KV)",
                "MiB per token (h2d + d2h)");
        for (Map.Entry<String, List<SimResult>> e : byPolicy.entrySet()) {
            List<SimResult> rows = new ArrayList<>(e.getValue());
            rows.sort((a, b) -> Double.compare(a.budgetFraction(), b.budgetFraction()));
            double[] x = new double[rows.size()];
            double[] h = new double[rows.size()];
            double[] m = new double[rows.size()];
            for (int i = 0; i < rows.size(); i++) {
                x[i] = rows.get(i).budgetFraction();
                h[i] = rows.get(i).hitRatio();
                m[i] = rows.get(i).bytesPerToken() / (1 << 20);
            }
            hits.add(new LineChart.Series(e.getKey(), x, h));
            bytes.add(new LineChart.Series(e.getKey(), x, m));
        }
        Path hitPng = dir.resolve("hit-ratio.png");
        Path bytesPng = dir.resolve("bytes-per-token.png");
        hits.write(hitPng, 900, 600);
        bytes.write(bytesPng, 900, 600);
        return List.of(hitPng, bytesPng);
    }

    private static String title(SimMetric m) {
        switch (m) {
            case HIT_RATIO: return "hit ratio";
            case MISSES_PER_TOKEN: return "misses/tok";
            case LOST_PER_TOKEN: return "lost/tok";
            case MISS_RATIO_TO_CLAIRVOYANT: return "misses x opt";
            case BYTES_RATIO_TO_CLAIRVOYANT: return "bytes x opt";
            case HOST_READ_FRACTION: return "host read";
            default: return m.field();
        }
    }
}

package io.tierkv.bench;

import io.tierkv.bench.report.Report;
import io.tierkv.bench.sim.SimReport;
import io.tierkv.bench.sim.SimResult;
import io.tierkv.bench.sim.Simulation;
import io.tierkv.bench.sim.Simulator;
import io.tierkv.core.Budget;
import io.tierkv.core.trace.TraceHeader;
import io.tierkv.core.trace.TraceReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code tierkv simulate}: Replay a trace through cache policies at device budgets, with the offline optimum. */
@Command(name = "simulate", mixinStandardHelpOptions = true,
        description = {"Replay a trace through cache policies at device budgets, with the offline optimum. Writes"
            + " DIR/simulate.json, DIR/simulate.csv, DIR/hit-ratio.png and DIR/bytes-per-token.png and prints a summary.",
            "Policies: hierarchical, lru, s3fifo, h2o, streaming, clairvoyant, and a0 for synthetic traces (see bench/README.md)."})
final class SimulateCommand implements Callable<Integer> {
    @Mixin
    OutputOption output;

    @Option(names = "--trace", required = true, paramLabel = "FILE", description = "Trace file (tierkv trace synth|record).")
    Path trace;

    @Option(names = "--policies", paramLabel = "LIST", defaultValue = "hierarchical,lru,s3fifo,h2o,streaming,clairvoyant",
            description = "Comma-separated policy specs, options after a colon (s3fifo:small=0.2). Default: ${DEFAULT-VALUE}.")
    String policies;

    @Option(names = "--budgets", paramLabel = "LIST", defaultValue = "0.1,0.25,0.5",
            description = "Device budgets: fractions of the final sequence per layer (0.25) or blocks over all layers (64b)."
                    + " Default: ${DEFAULT-VALUE}.")
    String budgets;

    @Option(names = "--threads", paramLabel = "N", description = "Replays run at once (default: available processors).")
    Integer threads;

    @Option(names = "--no-plots", description = "Skip the PNG plots.")
    boolean noPlots;

    @Option(names = "--host-read", defaultValue = "exact", paramLabel = "MODE",
            description = "Host read model: exact (every host block per layer and step) or digest[:blocks=N] (N host blocks,"
                    + " the requested ones first; a trace holds no queries to bound) (default: ${DEFAULT-VALUE}).")
    String hostRead;

    @Override
    public Integer call() throws Exception {
        List<String> specs = PolicyNames.simulator("--policies", policies);
        List<Budget> budgetList = new ArrayList<>();
        for (String b : budgets.split(",")) {
            if (!b.isBlank()) {
                try {
                    budgetList.add(Budget.parse(b));
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("--budgets: " + e.getMessage(), e);
                }
            }
        }
        if (budgetList.isEmpty()) {
            throw new IllegalArgumentException("--budgets names no budget");
        }
        int n = threads != null ? Options.positive("--threads", threads) : Runtime.getRuntime().availableProcessors();
        Path dir = output.prepare("simulate");
        if (!Files.isRegularFile(trace)) {
            throw new IllegalArgumentException("--trace " + trace + ": " + (Files.exists(trace) ? "not a regular file" : "no such file"));
        }
        TraceHeader header = TraceReader.readHeader(trace);
        String name = trace.getFileName().toString();
        System.err.printf(Locale.ROOT, "simulate: %s: %d layers, prompt %d, %d steps, k=%d, block %d tokens (%d KiB);"
                        + " %d policies x %d budgets on %d threads%n", name, header.layers(), header.promptLength(), header.steps(),
                header.topK(), header.layout().blockSize(), header.layout().blockBytes() / 1024, specs.size(), budgetList.size(), n);

        long start = System.nanoTime();
        List<SimResult> results = Simulation.run(new Simulation.Plan(() -> TraceReader.open(trace), specs, budgetList, n, System.err,
                io.tierkv.model.generate.HostRead.parse(hostRead)));
        double seconds = (System.nanoTime() - start) / 1e9;

        Report report = SimReport.report(results, settings(header, name, specs, budgetList, n, seconds));
        report.setting("hostRead", io.tierkv.model.generate.HostRead.parse(hostRead).toString());
        Files.createDirectories(dir);
        report.writeJson(dir.resolve("simulate.json"));
        report.writeCsv(dir.resolve("simulate.csv"));
        System.out.print(SimReport.summary(report, io.tierkv.model.generate.HostRead.parse(hostRead).digest()));
        System.out.printf(Locale.ROOT, "%nwrote %s and simulate.csv", dir.resolve("simulate.json"));
        if (!noPlots) {
            SimReport.plots(results, name, dir);
            System.out.print(", hit-ratio.png, bytes-per-token.png");
        }
        System.out.printf(Locale.ROOT, " (%.1f s)%n", seconds);
        return 0;
    }

    private static Map<String, Object> settings(TraceHeader h, String name, List<String> specs, List<Budget> budgets, int threads,
                                                double seconds) {
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("trace", name);
        s.put("traceSource", h.source());
        Map<String, Object> layout = new LinkedHashMap<>();
        layout.put("layers", h.layers());
        layout.put("kvHeads", h.layout().kvHeads());
        layout.put("headDim", h.layout().headDim());
        layout.put("dtype", h.layout().dtype().name());
        layout.put("blockSize", h.layout().blockSize());
        layout.put("blockBytes", h.layout().blockBytes());
        s.put("layout", layout);
        s.put("topK", h.topK());
        s.put("promptLength", h.promptLength());
        s.put("steps", h.steps());
        s.put("blocksPerLayer", Simulator.blocksPerLayer(h));
        s.put("policies", specs);
        List<String> b = new ArrayList<>();
        budgets.forEach(x -> b.add(x.toString()));
        s.put("budgets", b);
        s.put("threads", threads);
        s.put("seconds", seconds);
        return s;
    }
}

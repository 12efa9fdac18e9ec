package io.tierkv.cuda.check;

import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClasspathRoots;

import io.tierkv.cuda.driver.Backend;
import io.tierkv.cuda.driver.BackendSelection;
import io.tierkv.cuda.driver.CudaContext;
import java.io.File;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.TagFilter;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.launcher.listeners.SummaryGeneratingListener;
import org.junit.platform.launcher.listeners.TestExecutionSummary;

/**
 * The one-command GPU check of the bundle ({@code bin/tierkv-gpu-check}): the backend found, every test
 * tagged {@code gpu} in the bundle's test jars (CUDA conformance, the JCuda layer, tiering's round trips
 * on device and pinned memory, the CUDA decoder against the CPU decoder's fixture), one table of {@link KernelBenchmark}'s
 * and {@link DecoderBenchmark}'s rows (popularity, copies, GEMV weight streaming, paged attention, each next to a
 * device-to-device copy of the same bytes), the {@link DecodeRow} (the bundled model decoded on the device) and the
 * {@link DemoRow} ({@code demo --backend cuda}: the paper's experiment on the CUDA decoder). Writes {@code tests.txt},
 * {@code kernels.txt}, {@code kernels.json}, {@code decode.txt} and {@code demo.txt} under {@code --out}, each test's outcome to
 * {@code tests-progress.txt} as it ends, the decode and demo rows as they come. Exit status: 0 all passed, 1 a test failed,
 * a kernel disagreed with its oracle or the deadline passed ({@code --deadline}, {@link Watchdog}), 2 no usable GPU.
 */
public final class GpuCheck {
    private GpuCheck() {
    }

    /**
     * Seconds after which a check still running is stopped with the stage it was in ({@link Watchdog}): under the 10 minutes
     * a lent GPU is usually held for one command, well over the few minutes the whole check takes on an H200.
     */
    static final int DEFAULT_DEADLINE_SECONDS = 540;

    /** Runs the check; any unexpected failure is one line and exit status 1, never a silent pass. */
    public static void main(String[] args) {
        try {
            run(args);
        } catch (IOException | RuntimeException | LinkageError e) {
            System.out.println("GPU check: FAILED: " + e);
            System.exit(1);
        }
    }

    static void run(String[] args) throws IOException {
        Path out = Path.of("results");
        int iterations = 200;
        boolean tests = true;
        boolean bench = true;
        boolean allowCpu = false;
        boolean hostMirror = false;
        int deadline = DEFAULT_DEADLINE_SECONDS;
        boolean rowsOnly = false;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--out": out = Path.of(args[++i]); break;
                case "--iterations": iterations = Integer.parseInt(args[++i]); break;
                case "--skip-tests": tests = false; break;
                case "--skip-bench": bench = false; break;
                case "--allow-cpu": allowCpu = true; break;
                case "--host-mirror": hostMirror = true; break;
                case "--deadline": deadline = Integer.parseInt(args[++i]); break;
                case "--rows":
                    DecodeRow.only(args[++i]);
                    rowsOnly = true;
                    break;
                default:
                    System.err.println("unknown option '" + args[i] + "'; expected --out DIR, --iterations N, --skip-tests, --skip-bench,"
                            + " --allow-cpu, --host-mirror, --deadline SECONDS, --rows REGEX");
                    System.exit(64);
            }
        }
        Files.createDirectories(out);
        Watchdog.arm(deadline, out);
        if (hostMirror) { // a rehearsal: the decode and demo rows' own code, on the host mirror of the device
            boolean ok = DecodeRow.run(out, true) & DemoRow.run(out, true);
            System.out.printf(Locale.ROOT, "GPU check: %s on the host mirror (%.0f s): the decode and demo rows' code rehearsed, nothing"
                    + " measured on a GPU%n", ok ? "rehearsed" : "FAILED", Watchdog.elapsedSeconds());
            System.exit(ok ? 0 : 1);
        }
        Watchdog.stage("backend probe");
        BackendSelection backend = BackendSelection.probe("auto");
        System.out.println("backend   " + backend.backend().name().toLowerCase(Locale.ROOT) + ": " + backend.reason());
        System.out.println("java      " + System.getProperty("java.version") + " (" + System.getProperty("java.home") + ")");
        if (backend.backend() != Backend.CUDA && !allowCpu) {
            System.out.println("no usable GPU, nothing to check (--allow-cpu runs the tests anyway; they skip)");
            System.exit(2);
        }
        boolean ok = true;
        if (rowsOnly) { // the tests (unless --skip-tests), then the rows asked for: no kernel table or demo
            if (tests) {
                ok &= runTests(out);
            }
            ok &= backend.backend() == Backend.CUDA && DecodeRow.run(out);
            if (ok && DecodeRow.matched() == 0) {
                System.out.println("no decode row's stage name matched --rows (names as: decode random 100M, tiered hierarchical, host read"
                        + " exact)");
                ok = false;
            }
            System.out.printf(Locale.ROOT, "GPU check: the rows asked for %s (%.0f s)%n", ok ? "ran" : "FAILED", Watchdog.elapsedSeconds());
            System.exit(ok ? 0 : 1);
        }
        if (tests) {
            ok &= runTests(out);
        }
        if (bench && backend.backend() == Backend.CUDA) {
            ok &= runBenchmark(out, iterations);
            ok &= DecodeRow.run(out);
            ok &= DemoRow.run(out);
        }
        if (backend.backend() != Backend.CUDA) {
            System.out.println(ok ? "GPU check: the bundle works, but without a GPU nothing was checked (the gpu tests skipped)"
                    : "GPU check: FAILED (even without a GPU)");
            System.exit(ok ? 2 : 1);
        }
        System.out.printf(Locale.ROOT, "GPU check: %s (%.0f s)%n", ok ? "PASSED" : "FAILED", Watchdog.elapsedSeconds());
        System.exit(ok ? 0 : 1);
    }

    /** Runs the gpu-tagged tests of the test jars named by {@code -Dtierkv.tests} (or found on the class path). */
    static boolean runTests(Path out) throws IOException {
        Set<Path> roots = testRoots();
        System.out.println("tests     tag gpu in " + roots);
        LauncherDiscoveryRequest request = LauncherDiscoveryRequestBuilder.request()
                .selectors(selectClasspathRoots(roots))
                .filters(TagFilter.includeTags("gpu"))
                .build();
        Launcher launcher = LauncherFactory.create();
        SummaryGeneratingListener listener = new SummaryGeneratingListener();
        long start = System.nanoTime();
        Watchdog.stage("gpu test discovery");
        launcher.execute(request, listener, new TestProgress(out.resolve("tests-progress.txt")));
        TestExecutionSummary summary = listener.getSummary();
        StringWriter text = new StringWriter();
        summary.printTo(new PrintWriter(text));
        summary.printFailuresTo(new PrintWriter(text), 30);
        Files.writeString(out.resolve("tests.txt"), text.toString());
        System.out.printf(Locale.ROOT, "tests     %d found, %d passed, %d failed, %d skipped (%.1f s)%n", summary.getTestsFoundCount(),
                summary.getTestsSucceededCount(), summary.getTotalFailureCount(), summary.getTestsSkippedCount()
                        + summary.getTestsAbortedCount(), (System.nanoTime() - start) / 1e9);
        if (summary.getTestsFoundCount() == 0) {
            System.out.println("  no gpu tests found: is tests/ in the bundle?");
            return false;
        }
        return summary.getTotalFailureCount() == 0;
    }

    private static Set<Path> testRoots() {
        String named = System.getProperty("tierkv.tests", "");
        List<String> entries = new ArrayList<>(List.of(named.split(File.pathSeparator)));
        if (named.isBlank()) {
            entries = List.of(System.getProperty("java.class.path").split(File.pathSeparator));
            entries = entries.stream().filter(e -> e.endsWith("-tests.jar") || e.endsWith("test-classes")).toList();
        }
        Set<Path> roots = new LinkedHashSet<>();
        for (String e : entries) {
            if (!e.isBlank() && Files.exists(Path.of(e))) {
                roots.add(Path.of(e));
            }
        }
        return roots;
    }

    static boolean runBenchmark(Path out, int iterations) throws IOException {
        Watchdog.stage("kernel benchmark");
        try (CudaContext ctx = CudaContext.primary(0)) {
            System.out.println("kernels   on " + ctx.device().describe() + ", " + iterations + " timed calls per row");
            List<KernelBenchmark.Row> rows = new ArrayList<>();
            boolean ran = true;
            try {
                rows.addAll(new KernelBenchmark(ctx, iterations).run());
                rows.addAll(new DecoderBenchmark(ctx, iterations).run());
            } catch (RuntimeException e) {
                System.out.println("  FAILED benchmark: " + e);
                ran = false;
            }
            String table = KernelBenchmark.table(rows);
            System.out.print(table);
            Files.writeString(out.resolve("kernels.txt"), table);
            Files.writeString(out.resolve("kernels.json"), KernelBenchmark.json(rows));
            boolean correct = ran && rows.stream().allMatch(KernelBenchmark.Row::correct);
            rows.stream().filter(r -> !r.correct()).forEach(r ->
                    System.out.println("  FAILED " + r.what() + " " + r.size() + ": the kernel's result does not match its Java oracle"));
            // The targets, each as a share of the copy measured in the same run; a missed target is reported, not failed
            // (a benchmark, not a timed test): popularity at 32k >= 50%, GEMV >= 60%, paged attention at 32k >= 60%.
            rows.stream().filter(r -> !Double.isNaN(r.target())).forEach(r ->
                    System.out.printf(Locale.ROOT, "target    %s %s: %.0f GB/s, %.0f%% of the copy's %.0f GB/s (target >= %.0f%%): %s%n",
                            r.what(), r.size(), r.gbps(), 100 * r.shareOfCopy(), r.copyGbps(), 100 * r.target(),
                            r.meetsTarget() ? "met" : "MISSED"));
            return correct;
        }
    }
}

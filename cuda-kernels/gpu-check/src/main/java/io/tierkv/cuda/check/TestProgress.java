package io.tierkv.cuda.check;

import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.engine.reporting.ReportEntry;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;

/**
 * Each {@code gpu} test's outcome, appended to a file as it ends (the summary is written only after the last one), and
 * the test running named as the {@link Watchdog}'s stage: a test that hangs in a kernel is then named by the deadline's
 * line, and the tests before it keep their results. A failure is also printed at once.
 */
final class TestProgress implements TestExecutionListener {
    private final Report report;
    private final Map<String, Long> started = new ConcurrentHashMap<>();

    TestProgress(Path file) {
        this.report = new Report(file, false); // stdout gets the failures and the summary
    }

    @Override
    public void executionStarted(TestIdentifier test) {
        started.put(test.getUniqueId(), System.nanoTime());
        if (test.isTest()) {
            Watchdog.stage("test " + name(test));
        }
    }

    @Override
    public void executionSkipped(TestIdentifier test, String reason) {
        if (test.isTest()) {
            report.line("SKIPPED  " + name(test) + ": " + reason);
        }
    }

    @Override
    public void executionFinished(TestIdentifier test, TestExecutionResult result) {
        Long t0 = started.remove(test.getUniqueId());
        double seconds = t0 == null ? 0 : (System.nanoTime() - t0) / 1e9;
        if (!test.isTest() && result.getStatus() == TestExecutionResult.Status.SUCCESSFUL) {
            return; // a class or engine: its tests said it
        }
        String cause = result.getThrowable().map(t -> ": " + (result.getStatus() == TestExecutionResult.Status.ABORTED
                ? t.getMessage() : t.toString())).orElse(""); // an assumption's message says why it skipped
        String line = String.format(Locale.ROOT, "%-8s %s (%.2f s)%s", result.getStatus(), name(test), seconds, cause);
        report.line(line);
        if (result.getStatus() == TestExecutionResult.Status.FAILED) {
            System.out.println("  " + line);
        }
    }

    @Override
    public void reportingEntryPublished(TestIdentifier test, ReportEntry entry) {
        report.line("REPORT   " + name(test) + ": " + entry.getKeyValuePairs());
    }

    /** The test's class and display name, as {@code Class > method()}. */
    private static String name(TestIdentifier test) {
        String source = test.getSource().map(s -> s instanceof org.junit.platform.engine.support.descriptor.MethodSource m
                ? m.getClassName().substring(m.getClassName().lastIndexOf('.') + 1) + " > " : "").orElse("");
        return source + test.getDisplayName();
    }
}

package io.tierkv.bench;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import picocli.CommandLine;

/** One {@code tierkv} command run in-process: its exit code, what it printed on stdout and on stderr. */
record CliRun(int rc, String out, String err) {
    static CliRun of(String... args) {
        ByteArrayOutputStream stdout = new ByteArrayOutputStream();
        PrintStream saved = System.out;
        StringWriter err = new StringWriter();
        int rc;
        try {
            System.setOut(new PrintStream(stdout, true, StandardCharsets.UTF_8));
            CommandLine cl = TierKv.commandLine();
            cl.setErr(new PrintWriter(err, true));
            rc = cl.execute(args);
        } finally {
            System.setOut(saved);
        }
        return new CliRun(rc, stdout.toString(StandardCharsets.UTF_8), err.toString());
    }
}

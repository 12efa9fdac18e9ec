package io.tierkv.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code tierkv trace synth} then {@code tierkv simulate}, end to end on a small trace. */
class SimulateCommandTest {
    @TempDir
    Path dir;

    private int run(StringWriter err, String... args) {
        CommandLine cl = TierKv.commandLine();
        cl.setErr(new PrintWriter(err, true));
        return cl.execute(args);
    }

    @Test
    void synthThenSimulate_writesEveryOutput_andClairvoyantLeadsAtEveryBudget() throws IOException {
        Path trace = dir.resolve("t.tkvt");
        Path out = dir.resolve("out");
        StringWriter err = new StringWriter();
        assertEquals(0, run(err, "trace", "synth", "--tokens", "1024", "--steps", "120", "--seed", "3", "--layers", "4",
                "--out", trace.toString()), err.toString());
        assertEquals(0, run(err, "simulate", "--trace", trace.toString(), "--budgets", "0.1,0.3,40b", "--threads", "2",
                "--out", out.toString()), err.toString());
        for (String f : new String[] {"simulate.json", "simulate.csv", "hit-ratio.png", "bytes-per-token.png"}) {
            assertTrue(Files.size(out.resolve(f)) > 0, f);
        }
        JsonNode root = new ObjectMapper().readTree(out.resolve("simulate.json").toFile());
        assertEquals("t.tkvt", root.get("settings").get("trace").asText());
        JsonNode rows = root.get("rows");
        assertEquals(18, rows.size(), "6 default policies x 3 budgets");
        Map<String, Double> best = new HashMap<>();
        Map<String, Double> clairvoyant = new HashMap<>();
        for (JsonNode r : rows) {
            for (String field : new String[] {"policy", "budget", "hitRatio", "missesPerToken", "h2dBytesPerToken", "d2hBytesPerToken",
                "missRatioToClairvoyant"}) {
                assertTrue(r.has(field), field);
            }
            String budget = r.get("budget").asText();
            double hit = r.get("hitRatio").asDouble();
            best.merge(budget, hit, Math::max);
            if (r.get("policy").asText().equals("clairvoyant")) {
                clairvoyant.put(budget, hit);
                assertEquals(1.0, r.get("missRatioToClairvoyant").asDouble(), 1e-12);
            }
        }
        assertEquals(best, clairvoyant);
        assertEquals(19, Files.readAllLines(out.resolve("simulate.csv")).size());
    }

    /**
     * The printed table: a small trace's few KiB per token show in MiB to three significant digits (not 0.00), and a sparse
     * host read adds what it read; a policy listed twice is refused (its rows would be counted twice).
     */
    @Test
    void theSummary_showsSmallTraffic_andASparseReadsBytes_andRefusesAPolicyListedTwice() throws IOException {
        Path trace = dir.resolve("t.tkvt");
        StringWriter err = new StringWriter();
        assertEquals(0, run(err, "trace", "synth", "--tokens", "512", "--steps", "80", "--seed", "5", "--layers", "2", "--kv-heads", "1",
                "--head-dim", "8", "--out", trace.toString()), err.toString()); // blocks of 512 bytes: a few KiB per token
        CliRun exact = CliRun.of("simulate", "--trace", trace.toString(), "--budgets", "0.25", "--policies", "lru", "--no-plots",
                "--out", dir.resolve("exact").toString());
        assertEquals(0, exact.rc(), exact.err());
        String lruRow = exact.out().lines().filter(l -> l.startsWith("| lru")).findFirst().orElseThrow();
        assertTrue(!lruRow.contains(" 0.00 "), "a few KiB per token read as 0.00 MiB: " + lruRow);
        assertTrue(!exact.out().contains("host read"), exact.out());

        CliRun sparse = CliRun.of("simulate", "--trace", trace.toString(), "--budgets", "0.25", "--policies", "lru", "--no-plots",
                "--host-read", "digest:blocks=1", "--out", dir.resolve("sparse").toString());
        assertEquals(0, sparse.rc(), sparse.err());
        assertTrue(sparse.out().contains("host read MiB/tok") && sparse.out().contains("host read |"), sparse.out());

        CliRun twice = CliRun.of("simulate", "--trace", trace.toString(), "--policies", "lru,lru", "--out", dir.resolve("t2").toString());
        assertEquals(2, twice.rc());
        assertTrue(twice.err().contains("--policies lists 'lru' twice"), twice.err());
    }

    @Test
    void corruptTrace_failsWithTheByteOffset() throws IOException {
        Path trace = dir.resolve("t.tkvt");
        StringWriter err = new StringWriter();
        assertEquals(0, run(err, "trace", "synth", "--tokens", "256", "--steps", "20", "--layers", "2", "--out", trace.toString()));
        byte[] bytes = Files.readAllBytes(trace);
        Files.write(trace, Arrays.copyOf(bytes, bytes.length - 10));
        StringWriter err2 = new StringWriter();
        assertEquals(2, run(err2, "simulate", "--trace", trace.toString(), "--out", dir.resolve("o").toString()));
        assertTrue(err2.toString().contains("byte offset") && err2.toString().contains("truncated"), err2.toString());
    }

    @Test
    void unknownPolicy_namesTheKnownOnes() {
        StringWriter err = new StringWriter();
        Path trace = dir.resolve("t.tkvt");
        assertEquals(0, run(err, "trace", "synth", "--tokens", "64", "--steps", "2", "--layers", "1", "--out", trace.toString()));
        assertEquals(2, run(err, "simulate", "--trace", trace.toString(), "--policies", "lru,nope"));
        assertTrue(err.toString().contains("unknown simulator policy 'nope'") && err.toString().contains("s3fifo"), err.toString());
    }
}

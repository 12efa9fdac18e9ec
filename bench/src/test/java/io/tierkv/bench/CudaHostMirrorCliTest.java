package io.tierkv.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The command line's CUDA paths with {@code -Dtierkv.hostMirror=true}: {@code --backend cuda} runs the CUDA decoder's
 * orchestration on the host mirror of the device, so the wiring of {@code generate} and {@code trace record} on that path
 * (here with a remote tier that is down: every lookup a miss, every write dropped, the output unchanged) runs without a GPU.
 */
class CudaHostMirrorCliTest {
    /** Nothing listens on port 1: the remote tier is down from the start. */
    private static final String DOWN = "redis://127.0.0.1:1";

    @TempDir
    Path dir;

    @BeforeEach
    void onTheHostMirror() {
        System.setProperty("tierkv.hostMirror", "true");
    }

    @AfterEach
    void backToTheGpu() {
        System.clearProperty("tierkv.hostMirror");
    }

    private JsonNode generate(Path out, String... extra) throws IOException {
        String[] base = {"generate", "--backend", "cuda", "--type", "fill", "--position", "after", "--index", "3", "--max-tokens", "8",
            "--out", out.toString()};
        String[] args = new String[base.length + extra.length];
        System.arraycopy(base, 0, args, 0, base.length);
        System.arraycopy(extra, 0, args, base.length, extra.length);
        CliRun run = CliRun.of(args);
        assertEquals(0, run.rc(), run.err());
        assertTrue(run.out().contains("backend cuda |"), run.out());
        return new ObjectMapper().readTree(out.resolve("generate.json").toFile());
    }

    @Test
    void generate_withARemoteTierThatIsDown_missesEveryLookup_andGeneratesTheSameTokens() throws IOException {
        JsonNode plain = generate(dir.resolve("plain"));
        JsonNode remote = generate(dir.resolve("remote"), "--remote", DOWN, "--remote-timeout-ms", "50");
        assertEquals("cuda", remote.get("backend").asText());
        assertEquals(plain.get("tokens"), remote.get("tokens"), "a store that is down changes no token");
        assertEquals(0, remote.get("prefillTokensSkipped").asInt());
        assertEquals(remote.get("promptTokens").asInt(), remote.get("prefillTokensComputed").asInt());
        assertTrue(remote.get("remoteMisses").asInt() > 0, "the prompt's full blocks were looked up: " + remote);
        assertTrue(remote.get("remoteBlocksOffered").asInt() > 0, "and offered after prefill: " + remote);
    }

    @Test
    void generate_full_withARemoteTier_runsTiered_butStillRefusesDigestReads() throws IOException {
        JsonNode full = generate(dir.resolve("full"), "--policy", "full", "--remote", DOWN, "--remote-timeout-ms", "50");
        assertTrue(full.has("deviceBlocksPerLayer"), "full with --remote runs on the tiers: " + full);
        StringWriter err = new StringWriter();
        int rc = TierKv.execute(new PrintWriter(err, true), "generate", "--backend", "cuda", "--policy", "full", "--host-read", "digest",
                "--remote", DOWN, "--max-tokens", "4", "--out", dir.resolve("digest").toString());
        assertEquals(2, rc, err.toString());
        assertTrue(err.toString().contains("policy full attends every KV block"), err.toString());
    }

    @Test
    void traceRecord_withARemoteTier_printsTheRemoteLine() {
        CliRun run = CliRun.of("trace", "record", "--backend", "cuda", "--steps", "4", "--remote", DOWN, "--remote-timeout-ms", "50",
                "--out", dir.resolve("t.tkvt").toString());
        assertEquals(0, run.rc(), run.err());
        assertTrue(run.out().contains("remote tier: 0 of "), run.out());
    }
}

package io.tierkv.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code tierkv generate --host-read digest} on the CPU: the host read's share, recall and digests, printed and in the JSON. */
class GenerateHostReadTest {
    @TempDir
    Path dir;

    private String generate(String hostRead, Path out) {
        CliRun run = CliRun.of("generate", "--host-read", hostRead, "--budget", "0.25", "--max-tokens", "8", "--out", out.toString());
        assertEquals(0, run.rc(), run.err());
        return run.out();
    }

    @Test
    void digest_reportsTheShareOfAnExactRead_theRecallByLayer_andTheDigestsBytes() throws IOException {
        Path out = dir.resolve("digest");
        String printed = generate("digest", out);
        assertTrue(printed.contains("host read digest:blocks=2,bits=4,select=head,slices=8,keys=12,sketch=2 | "), printed);
        JsonNode device = new ObjectMapper().readTree(out.resolve("generate.json").toFile()).get("device");
        double fraction = device.get("hostReadFraction").asDouble();
        assertTrue(fraction > 0 && fraction < 0.2, "plain digest reads 2.5 blocks' worth of some 20 host blocks: " + fraction);
        assertEquals(4, device.get("digestRecallByLayer").asText().split(" ").length, "one recall per layer");
        assertTrue(device.get("digestBytesPeak").asLong() > 0);

        Path exactOut = dir.resolve("exact");
        String exact = generate("exact", exactOut);
        assertTrue(!exact.contains("host read "), "no host-read line in exact mode");
        JsonNode exactDevice = new ObjectMapper().readTree(exactOut.resolve("generate.json").toFile()).get("device");
        assertEquals(1.0, exactDevice.get("hostReadFraction").asDouble(), 1e-12);
        assertEquals(0, exactDevice.get("digestBytesPeak").asLong());
    }
}

package io.tierkv.model.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;
import net.jqwik.api.statistics.Statistics;

/**
 * Fuzzes {@link SafeTensorsFile#open}: headers of the corpus ({@code fuzz/safetensors}) edited as JSON (any value
 * replaced by a boundary value of any type, removed, or added: shapes that overflow, offsets out of range or
 * overlapping, unknown dtypes), then, one time in four, a raw byte of the whole file flipped. Every input must open
 * with tensors that lie inside the data, hold exactly their size and overlap no other (checked here pairwise, not
 * the way the reader checks), or fail with one {@link IllegalArgumentException} naming the file.
 */
class SafeTensorsFuzzTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static List<JsonNode> headers;
    private static List<byte[]> data;
    private static Path work;

    @BeforeContainer
    static void load() throws IOException {
        headers = new ArrayList<>();
        data = new ArrayList<>();
        for (byte[] b : FuzzCorpus.files("safetensors")) {
            int n = (int) ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
            headers.add(JSON.readTree(new String(b, 8, n, StandardCharsets.UTF_8)));
            data.add(java.util.Arrays.copyOfRange(b, 8 + n, b.length));
        }
        work = Files.createTempDirectory("safetensors-fuzz");
    }

    @AfterContainer
    static void removeWork() throws IOException {
        Files.deleteIfExists(work.resolve("t.safetensors"));
        Files.delete(work);
    }

    @Provide
    Arbitrary<byte[]> files() {
        return Combinators.combine(Arbitraries.integers().between(0, 1000), FuzzCorpus.edits("x", "dtype", "shape", "data_offsets"),
                Arbitraries.integers().between(0, 3), Arbitraries.integers()).as((seed, edits, flip, at) -> {
                    int i = seed % headers.size();
                    byte[] json;
                    try {
                        json = JSON.writeValueAsBytes(FuzzCorpus.edited(headers.get(i), edits));
                    } catch (IOException e) {
                        throw new IllegalStateException(e);
                    }
                    byte[] d = data.get(i);
                    ByteBuffer b = ByteBuffer.allocate(8 + json.length + d.length).order(ByteOrder.LITTLE_ENDIAN);
                    b.putLong(json.length).put(json).put(d);
                    byte[] out = b.array();
                    if (flip == 0) {
                        out[Math.floorMod(at, out.length)] ^= (byte) (1 << Math.floorMod(at >> 8, 8));
                    }
                    return out;
                });
    }

    @Property(seed = "20261130")
    void anyMutatedHeader_opensConsistently_orFailsWithOneErrorNamingTheFile(@ForAll("files") byte[] bytes) throws IOException {
        Path file = Files.write(work.resolve("t.safetensors"), bytes);
        String outcome;
        try (SafeTensorsFile st = SafeTensorsFile.open(file)) {
            long dataSize = bytes.length - 8 - ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
            List<SafeTensorsFile.TensorInfo> ts = new ArrayList<>(st.tensors().values());
            for (SafeTensorsFile.TensorInfo a : ts) {
                assertTrue(a.begin() >= 0 && a.end() >= a.begin() && a.end() <= dataSize, a.name());
                assertEquals(a.end() - a.begin(), Math.multiplyExact(a.numel(), (long) a.dtype().bytes()), a.name());
                for (SafeTensorsFile.TensorInfo b : ts) {
                    boolean bothNonEmpty = a != b && a.end() > a.begin() && b.end() > b.begin();
                    assertFalse(bothNonEmpty && a.begin() < b.end() && b.begin() < a.end(), a.name() + " overlaps " + b.name());
                }
            }
            outcome = "opened";
        } catch (IllegalArgumentException e) {
            assertTrue(e.getMessage().startsWith(file + ": "), e.getMessage());
            assertFalse(e.getMessage().contains("\n"), e.getMessage());
            outcome = e.getMessage().substring(file.toString().length() + 2).replaceAll("'[^']*'", "'...'").replaceAll("-?[0-9]+", "N")
                    .replaceAll("\\[[^\\]]*\\]", "[..]").replaceAll(": .*", "");
        }
        Statistics.collect(outcome);
    }
}

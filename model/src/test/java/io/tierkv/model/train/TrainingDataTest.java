package io.tierkv.model.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tierkv.model.task.ReadingTask;
import io.tierkv.model.task.Vocabulary;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainingDataTest {
    private static final int BATCH = 16;
    private static final double REPEAT = 0.25;

    @TempDir
    Path dir;

    /** The file read back by hand: its JSON header and the data section. */
    private record Read(JsonNode header, ByteBuffer data) {
        ByteBuffer tensor(String name, String dtype) {
            JsonNode t = header.get(name);
            assertEquals(dtype, t.get("dtype").asText(), name);
            int begin = t.get("data_offsets").get(0).asInt();
            int end = t.get("data_offsets").get(1).asInt();
            return data.duplicate().position(begin).limit(end).slice().order(ByteOrder.LITTLE_ENDIAN);
        }

        int length(String name) {
            return header.get(name).get("shape").get(0).asInt();
        }
    }

    private static Read read(Path file) throws IOException {
        ByteBuffer all = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        int n = (int) all.getLong(0);
        byte[] json = new byte[n];
        all.get(8, json);
        return new Read(new ObjectMapper().readTree(json), all.position(8 + n).slice().order(ByteOrder.LITTLE_ENDIAN));
    }

    @Test
    void exportedRows_areTheBatchesTheTrainerDrawsForTheSameSeed() throws IOException {
        int examples = 40; // two whole steps of 16 and half of a third
        Path file = dir.resolve("data.safetensors");
        TrainingData.Summary s = TrainingData.export(file, examples, 7, BATCH, REPEAT);
        Read r = read(file);
        ByteBuffer tokens = r.tensor("tokens", "U8");
        ByteBuffer spans = r.tensor("spans", "I64");
        boolean[] sup = new boolean[(int) s.tokens()];
        long previousEnd = 0;
        for (int i = 0; i < r.header().get("spans").get("shape").get(0).asInt(); i++) {
            long begin = spans.getLong(16 * i);
            long end = spans.getLong(16 * i + 8);
            assertTrue(previousEnd <= begin && begin < end, "span " + i + " in order and not empty");
            java.util.Arrays.fill(sup, (int) begin, (int) end, true);
            previousEnd = end;
        }
        ByteBuffer offsets = r.tensor("offsets", "I64");
        ByteBuffer kind = r.tensor("kind", "U8");
        ByteBuffer rounds = r.tensor("rounds", "U8");
        assertEquals(examples + 1, r.length("offsets"));
        assertEquals(s.tokens(), r.length("tokens"));
        assertEquals(s.tokens(), offsets.getLong(8 * examples));

        // The trainer's draw, written out here step by step: a length bucket, then Batch.draw of the stage's mixture.
        Curriculum.Stage last = Curriculum.stages().get(Curriculum.stages().size() - 1);
        SplittableRandom rnd = new SplittableRandom(7);
        int row = 0;
        long supervised = 0;
        boolean multiRound = false;
        boolean warmup = false;
        while (row < examples) {
            ReadingTask task = new ReadingTask(last.bucket(rnd.nextInt(last.lengthBuckets())));
            Batch b = Batch.draw(task, rnd, BATCH, new Batch.Mix(REPEAT * last.warmupScale(), last.multiRoundShare(), last.maxRounds()));
            for (int i = 0; i < BATCH && row < examples; i++, row++) {
                int from = (int) offsets.getLong(8 * row);
                int inputs = (int) offsets.getLong(8 * (row + 1)) - from - 1;
                long[] expectIn = new long[b.length()];
                long[] expectTarget = new long[b.length()];
                System.arraycopy(b.inputs(), i * b.length(), expectIn, 0, b.length());
                System.arraycopy(b.targets(), i * b.length(), expectTarget, 0, b.length());
                long[] in = new long[b.length()];
                long[] target = new long[b.length()];
                java.util.Arrays.fill(in, Vocabulary.get().id(Vocabulary.PAD));
                java.util.Arrays.fill(target, Batch.IGNORE);
                for (int t = 0; t < inputs; t++) {
                    in[t] = Byte.toUnsignedInt(tokens.get(from + t));
                    if (sup[from + t]) {
                        target[t] = Byte.toUnsignedInt(tokens.get(from + t + 1));
                        supervised++;
                    }
                }
                assertFalse(sup[from + inputs], "a row's last token supervises nothing");
                assertArrayEquals(expectIn, in, "row " + row);
                assertArrayEquals(expectTarget, target, "row " + row);
                int k = kind.get(row);
                multiRound |= k == Batch.TASK && rounds.get(row) > 1;
                warmup |= k != Batch.TASK;
                assertEquals(k == Batch.TASK, rounds.get(row) >= 1, "rounds of row " + row);
            }
        }
        assertEquals(s.supervised(), supervised);
        assertTrue(multiRound, "the last stage mixes in multi-round prompts");
        assertTrue(warmup, "the last stage keeps warm-up rows");
        assertEquals("tierkv-train-data", r.header().get("__metadata__").get("format").asText());
        assertEquals(Files.size(file), s.bytes());
    }

    /** model/src/main/python/train_gpu.py compiles and its dry run accepts an export (skipped without python3). */
    @Test
    void gpuTrainerScript_compilesAndValidatesAnExport() throws IOException, InterruptedException {
        Path script = Path.of("src/main/python/train_gpu.py");
        assertTrue(Files.isRegularFile(script), script.toAbsolutePath() + " is missing");
        Assumptions.assumeTrue(run("python3", "--version").exitCode == 0, "python3 is not installed");
        Path file = dir.resolve("small.safetensors");
        TrainingData.Summary s = TrainingData.export(file, 24, 5, 8, REPEAT);
        assertEquals(0, run("python3", "-c", "import ast,sys; ast.parse(open(sys.argv[1]).read())", script.toString()).exitCode,
                "the script parses");
        Result dry = run("python3", script.toString(), "--data", file.toString(), "--dry-run", "--heldout", "4");
        assertEquals(0, dry.exitCode, dry.output);
        assertTrue(dry.output.contains("24 rows, " + s.tokens() + " tokens, " + s.supervised() + " supervised"), dry.output);
        Path broken = dir.resolve("broken.safetensors");
        byte[] bytes = Files.readAllBytes(file);
        Files.write(broken, java.util.Arrays.copyOf(bytes, bytes.length - 1)); // the last row's rounds cut short
        assertFalse(run("python3", script.toString(), "--data", broken.toString(), "--dry-run").exitCode == 0);
    }

    private record Result(int exitCode, String output) {
    }

    private static Result run(String... command) throws IOException, InterruptedException {
        Process p;
        try {
            p = new ProcessBuilder(command).redirectErrorStream(true).start();
        } catch (IOException e) {
            return new Result(-1, e.getMessage());
        }
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        return new Result(p.waitFor(), out);
    }

    @Test
    void sameSeed_sameBytes_otherSeed_otherRows() throws IOException {
        Path a = dir.resolve("a");
        Path b = dir.resolve("b");
        Path c = dir.resolve("c");
        TrainingData.export(a, 5, 3, 4, REPEAT);
        TrainingData.export(b, 5, 3, 4, REPEAT);
        TrainingData.export(c, 5, 4, 4, REPEAT);
        assertArrayEquals(Files.readAllBytes(a), Files.readAllBytes(b));
        assertFalse(java.util.Arrays.equals(Files.readAllBytes(a), Files.readAllBytes(c)));
    }
}

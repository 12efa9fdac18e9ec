package io.tierkv.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tierkv.model.BundledModel;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * Every documented user error, through {@link TierKv#execute} (what {@code main} runs): the exact one-line
 * message on stderr, exit code 2, and no stack trace. Each case fails before any real work (no model is run).
 */
class CliErrorTableTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path dir;
    private static Path trace;

    @BeforeAll
    static void writeATrace() {
        trace = dir.resolve("base.tkvt");
        assertEquals(0, TierKv.execute(new PrintWriter(new StringWriter()), "trace", "synth", "--tokens", "64", "--steps", "4",
                "--layers", "2", "--out", trace.toString()));
    }

    /** Runs {@code args}; asserts exit code 2, no stack trace, and returns the first line of stderr. */
    private static String error(String... args) {
        StringWriter err = new StringWriter();
        int code = TierKv.execute(new PrintWriter(err, true), args);
        String text = err.toString();
        assertEquals(2, code, text);
        assertFalse(text.matches("(?s).*\\n\\s+at [a-zA-Z].*"), "a stack trace: " + text);
        return text.lines().findFirst().orElse("");
    }

    /** Like {@link #error}, and the message is the only line. */
    private static String oneLine(String... args) {
        StringWriter err = new StringWriter();
        int code = TierKv.execute(new PrintWriter(err, true), args);
        assertEquals(2, code, err.toString());
        assertEquals(1, err.toString().lines().count(), err.toString());
        return err.toString().strip();
    }

    @Test
    void badOptionValues() {
        Path out = dir.resolve("out").toAbsolutePath();
        assertEquals("tierkv: --block-size must be in [1, 4096], was 0",
                oneLine("generate", "--block-size", "0", "--out", out.toString()));
        assertEquals("tierkv: --chunk must be > 0, was -1", oneLine("generate", "--mode", "chunked", "--chunk", "-1", "--out", out.toString()));
        assertEquals("tierkv: --chunk must be > 0, was 0", oneLine("eval", "--prompts", "1", "--mode", "chunked", "--chunk", "0"));
        assertEquals("tierkv: --max-tokens must be > 0, was 0", oneLine("generate", "--max-tokens", "0"));
        assertEquals("tierkv: --budget must be a fraction in (0, 1], was 1.5", oneLine("generate", "--budget", "1.5"));
        assertEquals("tierkv: --threads must be >= 0, was -1", oneLine("generate", "--threads", "-1"));
        assertEquals("tierkv: --prompts must be > 0, was 0", oneLine("eval", "--prompts", "0"));
        assertEquals("tierkv: --position must be before or after, was middle", oneLine("generate", "--position", "middle"));
        assertEquals("tierkv: --repeats must be > 0, was 0", oneLine("bench", "decode", "--repeats", "0"));
        assertEquals("tierkv: --threads must be > 0, was 0", oneLine("simulate", "--trace", trace.toString(), "--threads", "0"));
        assertEquals("tierkv: --budgets: budget 'abc' is neither a fraction in (0, 1] nor a block count like 64b",
                oneLine("simulate", "--trace", trace.toString(), "--budgets", "abc"));
        assertEquals("tierkv: Invalid value for option '--max-tokens': 'abc' is not an int (see 'tierkv generate --help')",
                oneLine("generate", "--max-tokens", "abc"));
        assertEquals("tierkv: Unknown option: '--frobnicate' (see 'tierkv generate --help')", oneLine("generate", "--frobnicate"));
    }

    /** Issue 16: {@code --remote URI} on every command that runs a model, checked before the model is loaded. */
    @Test
    void badRemoteUri_isOneLineAndExit2_onEveryModelCommand() {
        String uri = "http://127.0.0.1:6379";
        String expected = "tierkv: --remote " + uri + ": remote URI '" + uri + "' has an unknown scheme; expected redis://host:port"
                + " or redis-cluster://host:port[,host:port]";
        assertEquals(expected, oneLine("generate", "--remote", uri, "--out", dir.resolve("g").toString()));
        assertEquals(expected, oneLine("eval", "--prompts", "1", "--remote", uri, "--out", dir.resolve("e").toString()));
        assertEquals(expected, oneLine("demo", "--remote", uri, "--out", dir.resolve("d").toString()));
        assertEquals(expected, oneLine("trace", "record", "--remote", uri, "--out", dir.resolve("t.tkvt").toString()));
        assertEquals("tierkv: --remote redis://localhost: remote URI 'redis://localhost': node 'localhost' must be host:port",
                oneLine("eval", "--prompts", "1", "--remote", "redis://localhost", "--out", dir.resolve("e").toString()));
        assertEquals("tierkv: --remote-timeout-ms must be > 0, was 0", oneLine("trace", "record", "--remote", "redis://127.0.0.1:1",
                "--remote-timeout-ms", "0", "--out", dir.resolve("t.tkvt").toString()));
    }

    /** Issue 14: 2147483647 overflowed and was reported as "was -2147483645". */
    @Test
    void maxTokensPastTheModelsPositions_saysSoWithoutOverflowing() {
        assertEquals("tierkv: --max-tokens 2147483647: the prompt's 4 tokens plus 2147483647 generated exceed the model's"
                + " max_position_embeddings 2048", oneLine("generate", "--prompt", "passage the day .", "--max-tokens", "2147483647",
                "--out", dir.resolve("g").toString()));
    }

    /** Issue 13: --out was checked only after the whole run. */
    @Test
    void unwritableOutput_isCheckedFirst() throws IOException {
        Path file = Files.writeString(dir.resolve("a-file"), "x");
        assertEquals("tierkv: --out " + file + ": exists and is not a directory", oneLine("generate", "--out", file.toString()));
        assertEquals("tierkv: --out " + file + ": exists and is not a directory", oneLine("eval", "--prompts", "1", "--out", file.toString()));
        assertEquals("tierkv: --out " + file + ": exists and is not a directory",
                oneLine("simulate", "--trace", trace.toString(), "--out", file.toString()));
        assertEquals("tierkv: --out " + file + ": exists and is not a directory", oneLine("train", "--out", file.toString()));
    }

    @Test
    void trainExportOptions_areChecked() throws IOException {
        assertEquals("tierkv: --examples must be > 0, was 0",
                oneLine("train", "--export-data", dir.resolve("d.safetensors").toString(), "--examples", "0"));
        assertEquals("tierkv: --examples only goes with --export-data", oneLine("train", "--examples", "5", "--out", dir.resolve("t").toString()));
        Path folder = Files.createDirectories(dir.resolve("a-folder"));
        assertEquals("tierkv: --export-data " + folder + ": is a directory, a file name is expected",
                oneLine("train", "--export-data", folder.toString()));
    }

    @Test
    void missingFiles() {
        Path absent = dir.resolve("absent.tkvt");
        assertEquals("tierkv: " + absent + ": no such trace file", oneLine("trace", "info", absent.toString()));
        assertEquals("tierkv: --trace " + absent + ": no such file", oneLine("simulate", "--trace", absent.toString(), "--out",
                dir.resolve("s").toString()));
        assertEquals("tierkv: --model " + dir.resolve("nomodel") + ": no such directory (expected a Hugging Face model directory)",
                oneLine("generate", "--model", dir.resolve("nomodel").toString()));
    }

    /** Issue 13: the two registries did not know each other. */
    @Test
    void unknownPolicies_sayWhichCommandTakesThem() {
        assertEquals("tierkv: --policy lru: 'lru' is a simulator policy, use `tierkv simulate --policies lru`; the model runs full,"
                + " hierarchical, streaming, streaming-paper, streaming-original, snapkv, h2o", oneLine("generate", "--policy", "lru"));
        assertEquals("tierkv: --policies: 'snapkv' is a model policy, use `tierkv generate --policy snapkv` or `tierkv eval --policies"
                + " snapkv`; the simulator runs hierarchical, lru, s3fifo, h2o, streaming, clairvoyant, a0",
                oneLine("simulate", "--trace", trace.toString(), "--policies", "lru,snapkv"));
        assertEquals("tierkv: --policies nosuch: unknown policy 'nosuch'; known: [full, hierarchical, streaming, streaming-paper,"
                + " streaming-original, snapkv, h2o]", oneLine("eval", "--policies", "nosuch"));
    }

    /** Issue 13: `tierkv trace` with no subcommand exited 0. */
    @Test
    void groupsWithoutASubcommand_printTheirUsageAndExit2() {
        assertEquals("tierkv: 'tierkv trace' needs a subcommand: record, synth, info", error("trace"));
        assertEquals("tierkv: 'tierkv bench' needs a subcommand: copy, popularity, decode, remote", error("bench"));
        assertEquals("tierkv: 'tierkv' needs a subcommand: demo, generate, eval, train, trace, simulate, host-read-curve, bench, info", error());
    }

    /** Issue 13: `help trace synth` showed trace's help. */
    @Test
    void help_reachesNestedSubcommands() {
        CommandLine cl = TierKv.commandLine();
        StringWriter out = new StringWriter();
        cl.setOut(new PrintWriter(out, true));
        assertEquals(0, cl.execute("help", "trace", "synth"));
        assertTrue(out.toString().startsWith("Usage: tierkv trace synth"), out.toString());
        assertEquals("tierkv: no command 'tierkv trace nope'; known: record, synth, info", oneLine("help", "trace", "nope"));
    }

    @Test
    void corruptTraces() throws IOException {
        byte[] good = Files.readAllBytes(trace);
        int header = ByteBuffer.wrap(good).order(ByteOrder.LITTLE_ENDIAN).getShort(6);
        byte[] bad = new byte[good.length + 5];
        System.arraycopy(good, 0, bad, 0, header);
        System.arraycopy(new byte[] {(byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, 0x0f}, 0, bad, header, 5);
        System.arraycopy(good, header, bad, header + 5, good.length - header);
        Path file = Files.write(dir.resolve("negative.tkvt"), bad);
        String message = oneLine("trace", "info", file.toString());
        assertTrue(message.startsWith("tierkv: trace " + file + ": byte offset " + header + ": prefill record length 4294967295 exceeds"),
                message);
        Path notATrace = Files.writeString(dir.resolve("text.tkvt"), "hello, this is not a trace at all, not even close to one");
        assertEquals("tierkv: trace " + notATrace + ": byte offset 0: not a TierKV trace (magic is not 'TKVT')",
                oneLine("trace", "info", notATrace.toString()));
    }

    /** A copy of the bundled model with one file changed. */
    private static Path model(String name, String file, Consumer<ObjectNode> edit) throws IOException {
        Path d = Files.createDirectories(dir.resolve(name));
        for (String f : new String[] {"config.json", "model.safetensors", "tokenizer.json"}) {
            Files.copy(BundledModel.directory().resolve(f), d.resolve(f), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
        if (file != null) {
            ObjectNode root = (ObjectNode) JSON.readTree(d.resolve(file).toFile());
            edit.accept(root);
            Files.write(d.resolve(file), JSON.writeValueAsBytes(root));
        }
        return d;
    }

    private static String generate(Path model) {
        return oneLine("generate", "--model", model.toString(), "--prompt", "passage the day .", "--max-tokens", "2", "--out",
                dir.resolve("g").toString());
    }

    @Test
    void corruptModels() throws IOException {
        Path fraction = model("fraction", "config.json", c -> c.put("num_hidden_layers", 1.5));
        assertEquals("tierkv: " + fraction.resolve("config.json") + ": config field 'num_hidden_layers' is not an integer: 1.5",
                generate(fraction));
        Path tokens = model("tokens", "tokenizer.json", t -> ((ObjectNode) t.get("model").get("vocab")).put("passage", 5000));
        String vocab = JSON.readTree(tokens.resolve("config.json").toFile()).get("vocab_size").asText();
        assertEquals("tierkv: " + tokens.resolve("tokenizer.json") + ": 'model.vocab' token 'passage' has id 5000, outside the model's"
                + " vocabulary [0, " + vocab + ") (config.json vocab_size)", generate(tokens));
        Path overlap = model("overlap", null, null);
        overlapTheFirstNormWithTheEmbedding(overlap.resolve("model.safetensors"));
        String message = generate(overlap);
        assertTrue(message.startsWith("tierkv: " + overlap.resolve("model.safetensors") + ": tensors 'model.embed_tokens.weight'")
                && message.endsWith("overlap in the data section"), message);
    }

    /** The repro of issue 14: layer 0's norm moved inside the embedding, with an empty tensor between them. */
    private static void overlapTheFirstNormWithTheEmbedding(Path file) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        long n = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        ObjectNode header = (ObjectNode) JSON.readTree(new String(bytes, 8, (int) n, StandardCharsets.UTF_8));
        long embed = header.get("model.embed_tokens.weight").get("data_offsets").get(0).asLong();
        ObjectNode norm = (ObjectNode) header.get("model.layers.0.input_layernorm.weight");
        long size = norm.get("data_offsets").get(1).asLong() - norm.get("data_offsets").get(0).asLong();
        norm.putArray("data_offsets").add(embed + 64).add(embed + 64 + size);
        ObjectNode zero = header.putObject("zero");
        zero.put("dtype", "F32");
        zero.putArray("shape").add(0);
        zero.putArray("data_offsets").add(embed + 64).add(embed + 64);
        byte[] json = JSON.writeValueAsBytes(header);
        ByteBuffer out = ByteBuffer.allocate(8 + json.length + bytes.length - 8 - (int) n).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(json.length).put(json).put(bytes, 8 + (int) n, bytes.length - 8 - (int) n);
        Files.write(file, out.array());
    }
}

package io.tierkv.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tierkv.core.DType;
import io.tierkv.core.KvLayout;
import io.tierkv.cuda.driver.BackendSelection;
import io.tierkv.tiering.CopyThroughput;
import io.tierkv.tiering.TierDefaults;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code tierkv bench copy}: moves blocks device to host and back through the copy engine and compares the
 * rate with a plain single-threaded copy of the same bytes measured in the same run (memcpy on the CPU,
 * one synchronous {@code cuMemcpy} per arena on CUDA). Writes {@code DIR/copy.json}.
 *
 * <p>Example: {@code java -jar bench/target/tierkv.jar bench copy --backend cpu --out out/bench}.
 */
@Command(name = "copy", mixinStandardHelpOptions = true,
        description = "Move blocks through the copy engine, device to host and back; compare with memcpy of the same bytes.")
final class BenchCopyCommand implements Callable<Integer> {
    private static final Pattern SIZE = Pattern.compile("(\\d+)\\s*([kmgt]?)(i?b?)", Pattern.CASE_INSENSITIVE);

    @Mixin
    OutputOption output;

    @Option(names = "--backend", defaultValue = "auto", description = "auto, cpu or cuda (default: ${DEFAULT-VALUE}).")
    String backend;

    @Option(names = "--bytes", defaultValue = "1GiB", description = "Bytes to move each way per round, rounded up to whole arenas (default: ${DEFAULT-VALUE}).")
    String bytes;

    @Option(names = "--arena", defaultValue = "256MiB", description = "Size of each arena, a whole number of blocks (default: ${DEFAULT-VALUE}).")
    String arena;

    @Option(names = "--max-run", defaultValue = "16MiB", description = "Longest coalesced copy (default: ${DEFAULT-VALUE}).")
    String maxRun;

    @Option(names = "--rounds", defaultValue = "9", description = "Measuring rounds; medians are reported (default: ${DEFAULT-VALUE}).")
    int rounds;

    @Option(names = "--block-size", defaultValue = "16", description = "Tokens per block (default: ${DEFAULT-VALUE}).")
    int blockSize;

    @Option(names = "--kv-heads", defaultValue = "8", description = "KV heads (default: ${DEFAULT-VALUE}, as Llama-3-8B).")
    int kvHeads;

    @Option(names = "--head-dim", defaultValue = "128", description = "Head dimension (default: ${DEFAULT-VALUE}).")
    int headDim;

    @Option(names = "--dtype", defaultValue = "bf16", description = "Element type: f32, f16 or bf16 (default: ${DEFAULT-VALUE}).")
    String dtype;

    @Override
    public Integer call() {
        Options.positive("--rounds", rounds);
        Options.positive("--block-size", blockSize);
        Options.positive("--kv-heads", kvHeads);
        Options.positive("--head-dim", headDim);
        KvLayout layout = new KvLayout(1, kvHeads, headDim, DType.parse(dtype), blockSize);
        long arenaBytes = parseSize("--arena", arena);
        long moveBytes = parseSize("--bytes", bytes);
        long maxRunBytes = parseSize("--max-run", maxRun);
        Path dir = output.prepare("bench");
        BackendSelection selection = backend(backend);
        CopyThroughput.Options options = new CopyThroughput.Options(layout, selection.backend(), arenaBytes, moveBytes, maxRunBytes,
                rounds);
        System.out.printf("backend %s (%s)%n", selection.backend().name().toLowerCase(Locale.ROOT),
                backend.equalsIgnoreCase("auto") ? selection.reason() : "--backend " + backend);
        System.out.printf("block %d bytes: K and V of %d tokens x %d KV heads x %d x %s; arenas of %s each%n",
                layout.blockBytes(), blockSize, kvHeads, headDim, layout.dtype(), arena);
        CopyThroughput.Result r = CopyThroughput.measure(options, System.out);
        String baseline = r.backend().equals("cuda") ? "cuMemcpy, one per arena" : "Unsafe.copyMemory, 1 thread";
        System.out.printf("moved %s each way per round (%d passes over the arena), %d rounds%n",
                Bytes.format(r.bytes()), r.passes(), r.rounds());
        System.out.printf("  engine   %-28s %6.2f GB/s  (best round each way: d2h %.2f, h2d %.2f; %d copies of %.1f MiB on average)%n",
                "(" + r.engine() + ", coalesced)", r.engineGBps(), r.engineD2hGBps(), r.engineH2dGBps(), r.copies(),
                r.meanCopyBytes() / (1 << 20));
        System.out.printf("  engine   %-28s %6.2f GB/s%n", "(time spent copying only)", r.engineBusyGBps());
        System.out.printf("  memcpy   %-28s %6.2f GB/s%n", "(" + baseline + ")", r.memcpyGBps());
        System.out.printf("  ratio    %-28s %6.2f%n", "(median of paired rounds)", r.ratio());
        System.out.printf("  engine   %-28s %6.2f GB/s%n", "(scattered, ~1 block/copy)", r.scatteredGBps());
        Path file = dir.resolve("copy.json");
        {
            ObjectMapper json = new ObjectMapper();
            ObjectNode node = json.valueToTree(r);
            node.put("memcpy", baseline);
            node.put("gigabyte", "1e9 bytes; rates count both directions");
            node.put("layout", layout.toString());
            node.put("backendReason", selection.reason());
            node.put("cpus", Runtime.getRuntime().availableProcessors());
            node.put("java", System.getProperty("java.version"));
            node.put("defaultMaxRunBytes", TierDefaults.MAX_RUN_BYTES);
            Json.write(file, node);
        }
        System.out.println("wrote " + file);
        return 0;
    }

    /** The backend {@code --backend} asks for; {@code cuda} without a usable GPU fails naming the option, not the property. */
    private static BackendSelection backend(String requested) {
        try {
            return BackendSelection.probe(requested);
        } catch (IllegalStateException | IllegalArgumentException e) {
            BackendSelection found = BackendSelection.probe("auto");
            throw new IllegalArgumentException(requested.trim().equalsIgnoreCase("cuda")
                    ? "--backend cuda: no usable GPU: " + found.reason()
                    : "--backend must be auto, cpu or cuda, was '" + requested + "'", e);
        }
    }

    /**
     * Parses {@code 1GiB}, {@code 256MiB}, {@code 64k}, {@code 4096}: binary multiples. {@code 1GB} is refused: the rates
     * printed count a GB as 1e9 bytes, so a size in GB would be read two ways.
     */
    static long parseSize(String option, String text) {
        Matcher m = SIZE.matcher(text.trim());
        if (!m.matches()) {
            throw new IllegalArgumentException(option + " '" + text + "' is not a size like 4096, 64KiB, 256MiB or 1GiB");
        }
        if (!m.group(2).isEmpty() && m.group(3).equalsIgnoreCase("b")) { // "1GB": these rates count 1e9 bytes a GB
            throw new IllegalArgumentException(option + " '" + text + "' is ambiguous: sizes here are binary, write "
                    + m.group(1) + m.group(2).toUpperCase(Locale.ROOT) + "iB (or a number of bytes)");
        }
        long value = Long.parseLong(m.group(1));
        int shift = switch (m.group(2).toLowerCase(Locale.ROOT)) {
            case "k" -> 10;
            case "m" -> 20;
            case "g" -> 30;
            case "t" -> 40;
            default -> 0;
        };
        if (value <= 0 || Long.numberOfLeadingZeros(value) <= shift) {
            throw new IllegalArgumentException(option + " '" + text + "' must be a positive size that fits a long");
        }
        return value << shift;
    }
}

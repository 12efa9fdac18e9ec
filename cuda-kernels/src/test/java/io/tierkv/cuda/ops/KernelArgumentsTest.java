package io.tierkv.cuda.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Every class that launches kernels packs their arguments into a {@code LaunchArgs} buffer of a fixed capacity; a kernel
 * whose packed arguments outgrow it throws at every launch, on a GPU only (paged_probs' 188 bytes once went into 160). Read
 * from the sources: each kernel's packed size from its {@code .cu} signature (the driver's parameter ABI: each argument at a
 * multiple of its own size, a struct at its widest member's), each class's capacity (its {@code LaunchArgs}, or the one it
 * asks {@link LoadedModule} for) and the kernel names it launches (a
 * string literal naming the kernel, or a prefix of its name ending in {@code _}); every kernel must be launched by some
 * class, so that a launch this reading cannot see fails here rather than passing unchecked. And each packed argument list
 * has, in order, the types of one of the kernels its class launches (an argument packed out of order, or as the wrong
 * width, reads garbage on the device: again something only a GPU would show). What types cannot tell apart (two pointers
 * or two ints swapped) is left to the launch-layout tests of each op ({@code PagedLaunchTest}, {@code DigestLaunchTest})
 * and the {@code gpu} tests.
 */
class KernelArgumentsTest {
    private static final Path CUDA = Path.of("src/main/cuda");
    private static final Path JAVA = Path.of("src/main/java");
    private static final Pattern KERNEL = Pattern.compile("__global__\\s+void\\s+(?:__launch_bounds__\\([^)]*\\)\\s*)?([\\w#]+)\\s*\\(");
    private static final Pattern STRUCT = Pattern.compile("struct\\s+(\\w+)\\s*\\{([^{}]*)\\};");
    private static final Pattern DEFINE = Pattern.compile("#define\\s+(\\w+)\\(([^)]*)\\)");
    /** A class's buffer: {@code new LaunchArgs(context, N)} or {@code LoadedModule.load(context, MODULE, N, ...)}, N a constant. */
    private static final Pattern CAPACITY =
            Pattern.compile("(?:new LaunchArgs\\(\\w+,|LoadedModule\\.load\\(\\w+,\\s*\\w+,)\\s*([A-Z][A-Z0-9_]*|\\d+)\\b");
    private static final Pattern LITERAL = Pattern.compile("\"([a-z][a-z0-9_]*)\"");
    private static final Pattern CHAIN =
            Pattern.compile("\\.clear\\(\\)((?:\\s*\\.(?:i64|i32|f32)\\((?:[^()]|\\((?:[^()]|\\([^()]*\\))*\\))*\\))+)");
    private static final Pattern PUT = Pattern.compile("\\.(i64|i32|f32)\\((Double\\.doubleToRawLongBits)?");

    @Test
    void everyKernelsPackedArguments_fitTheBufferOfTheClassThatLaunchesIt() throws IOException {
        Map<String, Integer> kernels = kernelArgumentBytes();
        assertTrue(kernels.size() >= 40, "kernels read from " + CUDA.toAbsolutePath() + ": " + kernels.keySet());
        // the sizes PagedLaunchTest reads off the packed buffers themselves
        assertEquals(224, kernels.get("paged_attention_bf16_g8"), "paged attention, its second Part included");
        assertEquals(188, kernels.get("paged_probs"));
        Map<String, String> launchedBy = new TreeMap<>();
        List<String> tooSmall = new ArrayList<>();
        try (Stream<Path> files = Files.walk(JAVA)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList()) {
                String s = Files.readString(f);
                Matcher c = CAPACITY.matcher(s);
                if (!c.find()) {
                    continue;
                }
                int capacity = constant(s, c.group(1));
                String owner = f.getFileName().toString();
                for (Map.Entry<String, Integer> k : kernels.entrySet()) {
                    if (!namedIn(s, k.getKey())) {
                        continue;
                    }
                    launchedBy.merge(k.getKey(), owner, (a, b) -> a + ", " + b);
                    if (k.getValue() > capacity) {
                        tooSmall.add(k.getKey() + " packs " + k.getValue() + " bytes into " + owner + "'s " + capacity);
                    }
                }
            }
        }
        assertEquals(List.of(), tooSmall, "launch arguments that outgrow their buffer");
        List<String> unseen = kernels.keySet().stream().filter(k -> !launchedBy.containsKey(k)).toList();
        assertEquals(List.of(), unseen, "kernels no LaunchArgs owner names (a launch this test cannot check)");
    }

    /**
     * Each packed argument list ({@code args.clear().i64(..).i32(..)...}) has the types, in order, of one of the kernels its
     * class names: a pointer, {@code long long} or {@code double} (packed by its bits) as {@code i64}, {@code float} as
     * {@code f32}, the rest as {@code i32}, a struct as its fields.
     */
    @Test
    void everyPackedArgumentList_hasTheTypesOfAKernelItsClassLaunches() throws IOException {
        Map<String, List<String>> signatures = kernelSignatures();
        List<String> unmatched = new ArrayList<>();
        int chains = 0;
        try (Stream<Path> files = Files.walk(JAVA)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList()) {
                String s = Files.readString(f);
                if (!CAPACITY.matcher(s).find()) {
                    continue;
                }
                List<List<String>> own = signatures.entrySet().stream().filter(k -> namedIn(s, k.getKey())).map(Map.Entry::getValue).toList();
                Matcher chain = CHAIN.matcher(s);
                while (chain.find()) {
                    chains++;
                    List<String> types = new ArrayList<>();
                    Matcher put = PUT.matcher(chain.group(1));
                    while (put.find()) {
                        types.add(put.group(2) != null ? "f64" : put.group(1)); // a double goes by its bits
                    }
                    if (!own.contains(types)) {
                        unmatched.add(f.getFileName() + ": " + types);
                    }
                }
            }
        }
        assertTrue(chains >= 25, "packed argument lists found: " + chains);
        assertEquals(List.of(), unmatched, "argument lists no kernel of their class declares");
    }

    @Test
    void theParameterAbi_asTheDriverLaysItOut() {
        Map<String, Integer> structs = Map.of("Pair", 16);
        assertEquals(64, packedBytes("const float* a, int b, long long c, int d, float* e, int f, int g, int h, int i, int j, int k",
                structs)); // 8, 4 (+4), 8, 4 (+4), 8, then six ints
        assertEquals(24, packedBytes("int a, const Pair p", structs), "a struct at its widest member's alignment");
        assertEquals(16, packedBytes("float a, double b", structs));
        assertEquals(16, structBytes("const int* a; int b; int c;"));
        assertEquals(16, structBytes("const int* a; int b;"), "padded to its alignment");
    }

    /** Kernel name to packed argument bytes, macro instances expanded by the names their invocations give. */
    static Map<String, Integer> kernelArgumentBytes() {
        Map<String, Integer> structs = new TreeMap<>();
        Map<String, Integer> kernels = new TreeMap<>();
        parse((name, parameters) -> kernels.put(name, packedBytes(parameters, structs)), structs, new TreeMap<>());
        return kernels;
    }

    /** Kernel name to its parameters' packed types, in order (a struct's fields in its place). */
    static Map<String, List<String>> kernelSignatures() {
        Map<String, List<String>> fields = new TreeMap<>();
        Map<String, List<String>> kernels = new TreeMap<>();
        parse((name, parameters) -> {
            List<String> types = new ArrayList<>();
            for (String p : parameters.split(",")) {
                p = p.trim();
                String type = p.replace("const ", "").trim().split("\\s+")[0];
                if (!p.isEmpty()) {
                    types.addAll(fields.containsKey(type) ? fields.get(type) : List.of(packedType(p)));
                }
            }
            kernels.put(name, types);
        }, new TreeMap<>(), fields);
        return kernels;
    }

    /**
     * A parameter's or field's type as packed: {@code i64} for pointers, {@code long long} and {@code size_t}, {@code f64},
     * {@code f32}, {@code i32} for {@code int} and {@code unsigned}; any other scalar type fails, so that a type this
     * reading does not know is never sized by guess.
     */
    static String packedType(String declaration) {
        String d = declaration.replace("const ", "").replace("__restrict__", "").trim();
        if (d.contains("*")) {
            return "i64";
        }
        String type = d.substring(0, d.lastIndexOf(' ')).trim().replaceAll("\\s+", " ");
        return switch (type) {
            case "long long", "unsigned long long", "size_t" -> "i64";
            case "double" -> "f64";
            case "float" -> "f32";
            case "int", "unsigned", "unsigned int" -> "i32";
            default -> throw new AssertionError("a parameter of a type this test does not lay out: '" + declaration + "'");
        };
    }

    private static int size(String packedType) {
        return packedType.startsWith("i64") || packedType.equals("f64") ? 8 : 4;
    }

    /** Reads the kernels of {@link #CUDA}: each (name, parameter list) to {@code kernel}, after the structs' sizes and fields. */
    private static void parse(java.util.function.BiConsumer<String, String> kernel, Map<String, Integer> structs,
                              Map<String, List<String>> structFields) {
        List<String> sources = new ArrayList<>();
        try (Stream<Path> files = Files.list(CUDA)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".cu") || p.toString().endsWith(".cuh")).sorted().toList()) {
                sources.add(Files.readString(f).replace("\\\n", "\n").replaceAll("(?s)/\\*.*?\\*/", "").replaceAll("//[^\n]*", ""));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        for (String s : sources) {
            Matcher m = STRUCT.matcher(s);
            while (m.find()) {
                if (!m.group(2).contains("static") && !m.group(2).contains("(")) {
                    List<String> types = new ArrayList<>();
                    for (String field : m.group(2).split(";")) {
                        if (!field.isBlank()) {
                            types.add(packedType(field.trim()));
                        }
                    }
                    int bytes = structBytes(m.group(2));
                    // flattened into its fields, a struct packs as they do only when it has no padding
                    assertEquals(types.stream().mapToInt(KernelArgumentsTest::size).sum(), bytes,
                            "struct " + m.group(1) + " has padding: lay out its fields' offsets here");
                    structs.put(m.group(1), bytes);
                    structFields.put(m.group(1), types);
                }
            }
        }
        for (String s : sources) {
            Matcher m = KERNEL.matcher(s);
            while (m.find()) {
                int open = m.end();
                int depth = 1;
                int i = open;
                while (depth > 0) {
                    char ch = s.charAt(i++);
                    depth += ch == '(' ? 1 : ch == ')' ? -1 : 0;
                }
                for (String name : instances(s, m.group(1), m.start())) {
                    kernel.accept(name, s.substring(open, i - 1));
                }
            }
        }
    }

    /**
     * The names a kernel declared as {@code token} goes by: itself; within a macro, {@code prefix##SUFFIX} as the prefix
     * (Java names such kernels by prefix), and a macro parameter as each invocation's argument in its place.
     */
    private static List<String> instances(String source, String token, int at) {
        if (token.contains("##")) {
            return List.of(token.substring(0, token.indexOf("##")));
        }
        Matcher d = DEFINE.matcher(source);
        String macro = null;
        List<String> params = List.of();
        while (d.find() && d.start() < at) {
            macro = d.group(1);
            params = List.of(d.group(2).split("\\s*,\\s*"));
        }
        int index = macro == null ? -1 : params.indexOf(token);
        if (index < 0) {
            return List.of(token);
        }
        List<String> names = new ArrayList<>();
        Matcher call = Pattern.compile("(?m)^" + macro + "\\(([^)]*)\\)").matcher(source);
        while (call.find()) {
            names.add(call.group(1).split("\\s*,\\s*")[index].trim());
        }
        return names;
    }

    static int packedBytes(String parameters, Map<String, Integer> structs) {
        int offset = 0;
        for (String p : parameters.split(",")) {
            p = p.trim();
            if (p.isEmpty()) {
                continue;
            }
            String type = p.replace("const ", "").trim().split("\\s+")[0];
            int size;
            int align;
            if (structs.containsKey(type)) {
                size = structs.get(type);
                align = 8; // the structs here hold pointers
            } else {
                size = size(packedType(p));
                align = size;
            }
            offset = (offset + align - 1) / align * align + size;
        }
        return offset;
    }

    /** A struct of pointers, {@code long long} and 4-byte fields: its size, padded to 8 when it holds an 8-byte field. */
    static int structBytes(String body) {
        int offset = 0;
        int align = 4;
        for (String field : body.split(";")) {
            field = field.trim();
            if (field.isEmpty()) {
                continue;
            }
            int size = size(packedType(field));
            align = Math.max(align, size);
            offset = (offset + size - 1) / size * size + size;
        }
        return (offset + align - 1) / align * align;
    }

    /** A capacity written as a number or as a constant of the same source. */
    private static int constant(String source, String token) {
        if (token.chars().allMatch(Character::isDigit)) {
            return Integer.parseInt(token);
        }
        Matcher m = Pattern.compile("\\b" + token + "\\s*=\\s*(\\d+)").matcher(source);
        assertTrue(m.find(), "the value of " + token);
        return Integer.parseInt(m.group(1));
    }

    /** Whether a string literal of {@code source} is {@code kernel}'s name, or a prefix of it ending in {@code _}. */
    private static boolean namedIn(String source, String kernel) {
        Matcher m = LITERAL.matcher(source);
        while (m.find()) {
            String l = m.group(1);
            if (l.equals(kernel) || (l.endsWith("_") && l.length() >= 4 && kernel.startsWith(l))) {
                return true;
            }
        }
        return false;
    }
}

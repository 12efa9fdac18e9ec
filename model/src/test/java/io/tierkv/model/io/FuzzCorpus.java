package io.tierkv.model.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.stream.Stream;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;

/**
 * The committed seed corpus of the model's fuzz tests ({@code src/test/resources/fuzz/<kind>}: valid files and the
 * repro cases of issue 14) and the JSON mutations they share: a value anywhere in a document replaced by a
 * boundary value of another type, removed, or a field added.
 */
public final class FuzzCorpus {
    private static final JsonNodeFactory F = JsonNodeFactory.instance;

    private FuzzCorpus() {
    }

    /** The bytes of every file of one corpus folder, sorted by name. */
    public static List<byte[]> files(String kind) {
        try {
            Path dir = Path.of(FuzzCorpus.class.getResource("/fuzz/" + kind).toURI());
            List<byte[]> out = new ArrayList<>();
            try (Stream<Path> s = Files.list(dir).sorted()) {
                for (Path f : (Iterable<Path>) s::iterator) {
                    out.add(Files.readAllBytes(f));
                }
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Values that break parsers: wrong types, boundaries, overflows, fractions, empties. */
    public static Arbitrary<JsonNode> nastyValues() {
        return Arbitraries.oneOf(
                Arbitraries.of(0L, 1L, 2L, -1L, 3L, 4L, 8L, 50L, 175L, 4096L, 4097L, 65536L, (long) Integer.MAX_VALUE, (long) Integer.MIN_VALUE,
                        1L << 31, 1L << 32, Long.MAX_VALUE, Long.MIN_VALUE, 4611686018427387904L).map(v -> (JsonNode) F.numberNode(v)),
                Arbitraries.integers().map(v -> (JsonNode) F.numberNode(v)),
                Arbitraries.of(0.0, 1.5, -0.5, 1e-6, 1e300, Double.MAX_VALUE, 2.0).map(v -> (JsonNode) F.numberNode(v)),
                Arbitraries.of("", "abc", "1", "F32", "BF16", "I8", "llama3", "LlamaForCausalLM", "[UNK]").map(v -> (JsonNode) F.textNode(v)),
                Arbitraries.of((JsonNode) F.nullNode(), F.booleanNode(true), F.arrayNode(), F.objectNode(),
                        F.arrayNode().add(1).add(2), F.arrayNode().add(-1), F.arrayNode().add(0).add(0)));
    }

    /** One edit of a JSON document: pick the {@code at}-th node (depth first) and replace, remove or add to it. */
    public record Edit(int at, int kind, JsonNode value, String name) {
        void apply(JsonNode root) {
            JsonNode value = this.value.deepCopy(); // generated values are shared: never insert one twice
            List<JsonNode> containers = new ArrayList<>();
            collect(root, containers);
            if (containers.isEmpty()) {
                return;
            }
            JsonNode c = containers.get(Math.floorMod(at, containers.size()));
            if (c instanceof ObjectNode o) {
                List<String> names = new ArrayList<>();
                o.fieldNames().forEachRemaining(names::add);
                if (kind == 2 || names.isEmpty()) {
                    o.set(name, value);
                } else {
                    String field = names.get(Math.floorMod(at * 31 + kind, names.size()));
                    if (kind == 1) {
                        o.remove(field);
                    } else {
                        o.set(field, value);
                    }
                }
            } else if (c instanceof ArrayNode a) {
                if (kind == 2 || a.isEmpty()) {
                    a.add(value);
                } else {
                    int i = Math.floorMod(at * 31 + kind, a.size());
                    if (kind == 1) {
                        a.remove(i);
                    } else {
                        a.set(i, value);
                    }
                }
            }
        }

        private static void collect(JsonNode n, List<JsonNode> out) {
            if (n.isContainerNode()) {
                out.add(n);
                for (Iterator<JsonNode> it = n.elements(); it.hasNext(); ) {
                    collect(it.next(), out);
                }
            }
        }
    }

    /** A list of 1 to 4 edits; {@code names} are field names worth adding. */
    public static Arbitrary<List<Edit>> edits(String... names) {
        return Combinators.combine(Arbitraries.integers().between(0, 1000), Arbitraries.integers().between(0, 2), nastyValues(),
                Arbitraries.of(names)).as(Edit::new).list().ofMinSize(1).ofMaxSize(4);
    }

    /** Applies edits to a copy of {@code seed}. */
    public static JsonNode edited(JsonNode seed, List<Edit> edits) {
        JsonNode copy = seed.deepCopy();
        for (Edit e : edits) {
            e.apply(copy);
        }
        return copy;
    }
}

package io.tierkv.bench.sim;

import io.tierkv.core.policy.PolicyOptions;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * The registry of simulator policies: one explicit list, no classpath scanning. A spec is a name with
 * optional {@code key=value} options ({@code s3fifo:small=0.2}); for the core policies the options are
 * core's ({@code hierarchical:window=20,k=16}, see {@link io.tierkv.core.policy.Policies}).
 */
public final class SimPolicies {
    /** One registered policy. */
    public record Entry(String name, String description, Function<String, SimPolicy> factory) {
    }

    private static final Map<String, Entry> REGISTRY = new LinkedHashMap<>();

    static {
        register("hierarchical", "the paper's four levels (core HierarchicalPolicy, tier mode) with core's Placement, as the tier"
                + " manager runs them: host blocks read in place, promoted when worth more than the device's victim",
                o -> TieredPolicy.create("hierarchical", o));
        register("lru", "least recently used block leaves the device", o -> LruPolicy.create(PolicyOptions.parse("lru", o)));
        register("s3fifo", "S3-FIFO (SOSP'23): small 10% + main 90% FIFOs, ghost, 2-bit frequency",
                o -> S3FifoPolicy.create(PolicyOptions.parse("s3fifo", o)));
        register("h2o", "core H2oPolicy (heavy hitters + recent) at the device budget; evicted tokens are lost",
                o -> TieredPolicy.create("h2o", o));
        register("streaming", "core StreamingPolicy (4 sinks + recent window) at the device budget; the middle is lost",
                o -> TieredPolicy.create("streaming", o));
        register("clairvoyant", "Belady's offline optimum for the same budget (bypasses when the incoming block is used last)",
                o -> ClairvoyantPolicy.create(PolicyOptions.parse("clairvoyant", o)));
        register("a0", "A0 with the synthetic generator's true draw probabilities: keeps the most likely blocks, fetches on"
                + " demand; a yardstick for placements that learn from requests (synthetic traces only; it cannot foresee the"
                + " revisit family's returns)",
                o -> A0Policy.create(PolicyOptions.parse("a0", o)));
    }

    /** The policies {@code tierkv simulate} runs by default, in report order. */
    public static final List<String> DEFAULT = List.of("hierarchical", "lru", "s3fifo", "h2o", "streaming", "clairvoyant");

    /** The name of the offline optimum every row is compared with. */
    public static final String CLAIRVOYANT = "clairvoyant";

    private SimPolicies() {
    }

    private static void register(String name, String description, Function<String, SimPolicy> factory) {
        REGISTRY.put(name, new Entry(name, description, factory));
    }

    /** A fresh policy for one replay; throws with the known names if the name is unknown. */
    public static SimPolicy create(String spec) {
        String s = spec == null ? "" : spec.trim();
        int colon = s.indexOf(':');
        String name = colon < 0 ? s : s.substring(0, colon);
        Entry e = REGISTRY.get(name);
        if (e == null) {
            throw new IllegalArgumentException("unknown simulator policy '" + name + "'; known: " + names());
        }
        return e.factory().apply(colon < 0 ? "" : s.substring(colon + 1));
    }

    /** The name part of a spec. */
    public static String baseName(String spec) {
        int colon = spec.indexOf(':');
        return (colon < 0 ? spec : spec.substring(0, colon)).trim();
    }

    public static List<String> names() {
        return List.copyOf(REGISTRY.keySet());
    }

    public static List<Entry> entries() {
        return Collections.unmodifiableList(new ArrayList<>(REGISTRY.values()));
    }

    /**
     * Splits a comma-separated list of specs whose options also use commas: a part with {@code =} but
     * no {@code :} continues the previous spec ({@code hierarchical:window=20,k=16,lru} is two specs).
     */
    public static List<String> parseList(String text) {
        List<String> specs = new ArrayList<>();
        for (String part : text.split(",")) {
            String p = part.trim();
            if (p.isEmpty()) {
                continue;
            }
            if (p.contains("=") && !p.contains(":") && !specs.isEmpty() && specs.get(specs.size() - 1).contains(":")) {
                specs.set(specs.size() - 1, specs.get(specs.size() - 1) + "," + p);
            } else {
                specs.add(p);
            }
        }
        if (specs.isEmpty()) {
            throw new IllegalArgumentException("no policy in '" + text + "'; known: " + names());
        }
        for (String spec : specs) {
            create(spec);
        }
        return specs;
    }
}

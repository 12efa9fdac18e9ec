package io.tierkv.core.policy;

import io.tierkv.core.placement.TierMode;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * The registry of KV policies: one explicit list, no classpath scanning. A spec is a name with
 * optional {@code key=value} options, as in {@code hierarchical:k=16,window=40} or
 * {@code streaming:sinks=32}; each policy's javadoc lists its options.
 *
 * <pre>
 *   full                no eviction (accuracy baseline)
 *   hierarchical        the paper: four popularity levels, 40-step windows     cache normal low window k
 *   streaming           4 attention sinks + recent window filling the budget   sinks window
 *   streaming-paper     32 sinks + 256 window (the hierarchical paper's setup) sinks window
 *   streaming-original  4 sinks + 512 window (StreamingLLM's default)          sinks window
 *   snapkv              observation window votes for prompt tokens             window kernel pool
 *   h2o                 heavy hitters + recent tokens                          heavy
 * </pre>
 *
 * Every policy also takes {@code mode=tier|drop} ({@link TierMode}): what the tier manager does with the
 * blocks it evicts. {@code hierarchical} defaults to {@code tier} (evicted blocks wait on the host's cold
 * end, nothing is lost while the host has room), the compression baselines to {@code drop}.
 */
public final class Policies {
    private static final Map<String, Function<PolicyOptions, KvPolicy>> REGISTRY = new LinkedHashMap<>();

    static {
        REGISTRY.put("full", FullPolicy::create);
        REGISTRY.put("hierarchical", HierarchicalPolicy::create);
        REGISTRY.put("streaming", StreamingPolicy::create);
        REGISTRY.put("streaming-paper", StreamingPolicy::createPaper);
        REGISTRY.put("streaming-original", StreamingPolicy::createOriginal);
        REGISTRY.put("snapkv", SnapKvPolicy::create);
        REGISTRY.put("h2o", H2oPolicy::create);
    }

    /** The policies the eval runs by default, in report order. */
    public static final List<String> DEFAULT_EVAL = List.of("full", "hierarchical", "streaming", "snapkv", "h2o");

    private Policies() {
    }

    /** Creates a fresh policy from a spec; throws with the known names if the name is unknown. */
    public static KvPolicy create(String spec) {
        if (spec == null || spec.isBlank()) {
            throw new IllegalArgumentException("policy name must not be empty; known: " + names());
        }
        String trimmed = spec.trim();
        int colon = trimmed.indexOf(':');
        String name = colon < 0 ? trimmed : trimmed.substring(0, colon);
        String options = colon < 0 ? "" : trimmed.substring(colon + 1);
        Function<PolicyOptions, KvPolicy> factory = REGISTRY.get(name);
        if (factory == null) {
            throw new IllegalArgumentException("unknown policy '" + name + "'; known: " + names());
        }
        PolicyOptions parsed = PolicyOptions.parse(name, options);
        String mode = parsed.getString("mode", null);
        KvPolicy policy = factory.apply(parsed);
        if (mode != null) {
            if (!(policy instanceof AbstractKvPolicy)) {
                throw new IllegalArgumentException("policy '" + name + "' has no tier mode");
            }
            ((AbstractKvPolicy) policy).tierMode(TierMode.parse(mode));
        }
        return policy;
    }

    /**
     * Registers an embedder's policy under {@code name}, so that specs like {@code name:key=value} create it
     * wherever a policy is named. Register at start-up, before policies are created on other threads.
     * The name must be new, and free of ':' and ','.
     */
    public static synchronized void register(String name, Function<PolicyOptions, KvPolicy> factory) {
        if (name == null || name.isBlank() || name.contains(":") || name.contains(",") || !name.equals(name.trim())) {
            throw new IllegalArgumentException("policy name '" + name + "' must be non-empty, without ':', ',' or surrounding spaces");
        }
        if (factory == null) {
            throw new IllegalArgumentException("policy '" + name + "' has no factory");
        }
        if (REGISTRY.putIfAbsent(name, factory) != null) {
            throw new IllegalArgumentException("policy '" + name + "' is already registered");
        }
    }

    /** True if {@code spec}'s name is registered. */
    public static boolean isKnown(String spec) {
        String name = spec.contains(":") ? spec.substring(0, spec.indexOf(':')) : spec;
        return REGISTRY.containsKey(name.trim());
    }

    /** The registered names, in registry order. */
    public static List<String> names() {
        return List.copyOf(Collections.unmodifiableSet(REGISTRY.keySet()));
    }
}

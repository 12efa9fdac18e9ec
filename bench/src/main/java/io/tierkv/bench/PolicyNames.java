package io.tierkv.bench;

import io.tierkv.bench.sim.SimPolicies;
import io.tierkv.core.policy.KvPolicy;
import io.tierkv.core.policy.Policies;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * The two policy registries as the command line sees them: core's ({@link Policies}, what {@code generate},
 * {@code eval} and {@code trace record} run in the model) and the simulator's ({@link SimPolicies}, which adds
 * the classic cache policies and the offline optimum). A name unknown to one but known to the other gets a
 * message that says which command takes it.
 */
final class PolicyNames {
    private PolicyNames() {
    }

    /** A model policy from its spec ({@code name:k=v,...}); a simulator-only name says to use {@code simulate}. */
    static KvPolicy model(String option, String spec) {
        try {
            return Policies.create(spec);
        } catch (IllegalArgumentException e) {
            String name = baseName(spec);
            if (!Policies.isKnown(name) && SimPolicies.names().contains(name)) {
                throw new IllegalArgumentException(option + " " + spec + ": '" + name + "' is a simulator policy, use `tierkv simulate"
                        + " --policies " + name + "`; the model runs " + String.join(", ", Policies.names()));
            }
            throw new IllegalArgumentException(option + " " + spec + ": " + e.getMessage(), e);
        }
    }

    /** Checks every spec of a list as model policies. */
    static List<String> models(String option, List<String> specs) {
        if (specs.isEmpty()) {
            throw new IllegalArgumentException(option + " names no policy");
        }
        for (String s : specs) {
            model(option, s);
        }
        return distinct(option, specs);
    }

    /** The specs, each once: a policy listed twice would run twice and its rows be counted together. */
    private static List<String> distinct(String option, List<String> specs) {
        Set<String> seen = new HashSet<>();
        for (String s : specs) {
            if (!seen.add(s)) {
                throw new IllegalArgumentException(option + " lists '" + s + "' twice");
            }
        }
        return specs;
    }

    /** Parses and checks a simulator policy list; a model-only name says to use {@code generate} or {@code eval}. */
    static List<String> simulator(String option, String list) {
        List<String> specs;
        try {
            specs = SimPolicies.parseList(list);
        } catch (IllegalArgumentException e) {
            throw hint(option, list, e);
        }
        for (String s : specs) {
            try {
                SimPolicies.create(s);
            } catch (IllegalArgumentException e) {
                throw hint(option, s, e);
            }
        }
        return distinct(option, specs);
    }

    private static IllegalArgumentException hint(String option, String text, IllegalArgumentException e) {
        for (String spec : text.split(",")) {
            String name = baseName(spec);
            if (!name.isEmpty() && !SimPolicies.names().contains(name) && Policies.isKnown(name)) {
                return new IllegalArgumentException(option + ": '" + name + "' is a model policy, use `tierkv generate --policy " + name
                        + "` or `tierkv eval --policies " + name + "`; the simulator runs " + String.join(", ", SimPolicies.names()));
            }
        }
        return new IllegalArgumentException(option + " " + text + ": " + e.getMessage(), e);
    }

    private static String baseName(String spec) {
        String s = spec.trim();
        int colon = s.indexOf(':');
        return (colon < 0 ? s : s.substring(0, colon)).toLowerCase(Locale.ROOT);
    }
}

package io.tierkv.core.policy;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The {@code key=value} options of a policy spec such as {@code streaming:sinks=4,window=252}. Every key
 * must be read by the policy's factory; {@link #finish()} rejects the ones that were not.
 */
public final class PolicyOptions {
    private final String policy;
    private final Map<String, String> values;
    private final Set<String> read = new TreeSet<>();

    private PolicyOptions(String policy, Map<String, String> values) {
        this.policy = policy;
        this.values = values;
    }

    /** Parses {@code "k1=v1,k2=v2"} (may be empty) for the policy named {@code policy}. */
    public static PolicyOptions parse(String policy, String text) {
        Map<String, String> values = new LinkedHashMap<>();
        if (text != null && !text.isBlank()) {
            for (String part : text.split(",")) {
                int eq = part.indexOf('=');
                if (eq <= 0 || eq == part.length() - 1) {
                    throw new IllegalArgumentException("policy '" + policy + "': option '" + part.trim()
                            + "' is not of the form key=value");
                }
                String key = part.substring(0, eq).trim();
                if (values.put(key, part.substring(eq + 1).trim()) != null) {
                    throw new IllegalArgumentException("policy '" + policy + "': option '" + key + "' given twice");
                }
            }
        }
        return new PolicyOptions(policy, values);
    }

    /** An empty option set. */
    public static PolicyOptions none(String policy) {
        return new PolicyOptions(policy, new LinkedHashMap<>());
    }

    public int getInt(String key, int defaultValue) {
        read.add(key);
        String v = values.get(key);
        if (v == null) {
            return defaultValue;
        }
        try {
            return Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("policy '" + policy + "': option " + key + "=" + v + " is not an integer");
        }
    }

    public double getDouble(String key, double defaultValue) {
        read.add(key);
        String v = values.get(key);
        if (v == null) {
            return defaultValue;
        }
        try {
            return Double.parseDouble(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("policy '" + policy + "': option " + key + "=" + v + " is not a number");
        }
    }

    public String getString(String key, String defaultValue) {
        read.add(key);
        return values.getOrDefault(key, defaultValue);
    }

    /** True if the spec set {@code key}. */
    public boolean has(String key) {
        return values.containsKey(key);
    }

    /** Throws if the spec named a key that the policy does not know. */
    public void finish() {
        for (String key : values.keySet()) {
            if (!read.contains(key)) {
                throw new IllegalArgumentException("policy '" + policy + "' has no option '" + key + "'; it knows " + read);
            }
        }
    }

    /** The options as given, for names in reports ({@code k=v,...}). */
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        values.forEach((k, v) -> sb.append(sb.length() == 0 ? "" : ",").append(k).append('=').append(v));
        return sb.toString();
    }
}

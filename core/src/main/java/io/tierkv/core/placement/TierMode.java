package io.tierkv.core.placement;

import java.util.Locale;

/**
 * What happens to a block whose tokens a policy evicted (level EVICT).
 *
 * <ul>
 *   <li>{@link #TIER}: it goes to the host's cold end and stays readable; it is freed only when the host
 *       budget is exceeded, coldest first. With an unbounded host nothing is ever lost: a policy can be
 *       slow, never wrong.</li>
 *   <li>{@link #DROP}: the paper's compression: freed at once, its tokens masked from attention.</li>
 * </ul>
 */
public enum TierMode {
    TIER,
    DROP;

    /** Parses {@code tier} or {@code drop}, naming the choices when it is neither. */
    public static TierMode parse(String text) {
        for (TierMode m : values()) {
            if (m.name().equalsIgnoreCase(text.trim())) {
                return m;
            }
        }
        throw new IllegalArgumentException("unknown tier mode '" + text + "'; known: tier, drop");
    }

    @Override
    public String toString() {
        return name().toLowerCase(Locale.ROOT);
    }
}

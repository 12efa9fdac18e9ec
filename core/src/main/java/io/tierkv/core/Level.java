package io.tierkv.core;

/**
 * The four popularity levels of the hierarchical policy (Dela Rosa and Li, "Hierarchical KV Cache
 * Compression for LLMs", 2025), most popular first, and the tier each one maps to.
 *
 * <p>The ordinal is the level's rank: a smaller ordinal is more popular. Codes are stored as
 * {@code byte}s in the hot paths ({@link #code()}).
 *
 * <p>Tier mapping (TierKV's extension of the paper): CACHE and NORMAL on the device, LOW on the
 * host, EVICT dropped.
 */
public enum Level {
    CACHE(Tier.DEVICE),
    NORMAL(Tier.DEVICE),
    LOW(Tier.HOST),
    EVICT(Tier.NONE);

    private static final Level[] BY_CODE = values();

    private final Tier tier;

    Level(Tier tier) {
        this.tier = tier;
    }

    /** This level as a byte code (its ordinal). */
    public byte code() {
        return (byte) ordinal();
    }

    /** The tier a block at this level belongs on when budgets allow. */
    public Tier tier() {
        return tier;
    }

    /** The level of a byte code. */
    public static Level of(int code) {
        return BY_CODE[code];
    }

    /** One step from {@code from} toward {@code target} (promotion or demotion by exactly one level). */
    public static byte stepToward(byte from, byte target) {
        if (target < from) {
            return (byte) (from - 1);
        }
        if (target > from) {
            return (byte) (from + 1);
        }
        return from;
    }

    /** True for the levels that keep a token's KV somewhere (all but EVICT). */
    public static boolean isLive(byte code) {
        return code != EVICT_CODE;
    }

    public static final byte CACHE_CODE = 0;
    public static final byte NORMAL_CODE = 1;
    public static final byte LOW_CODE = 2;
    public static final byte EVICT_CODE = 3;
}

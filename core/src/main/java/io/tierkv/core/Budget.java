package io.tierkv.core;

import java.util.Locale;

/**
 * A memory budget, either a fraction of a reference token count (the prompt, or the live tokens) or
 * an absolute number of blocks. Parsed from {@code "0.25"} (fraction in (0, 1]) or {@code "64b"}
 * (blocks, also {@code "64blocks"}).
 */
public record Budget(Kind kind, double value) {

    public enum Kind { FRACTION, BLOCKS }

    public Budget {
        if (kind == Kind.FRACTION && !(value > 0 && value <= 1)) {
            throw new IllegalArgumentException("budget fraction must be in (0, 1], was " + value);
        }
        if (kind == Kind.BLOCKS && (value < 0 || value != Math.rint(value))) {
            throw new IllegalArgumentException("budget block count must be a whole number >= 0, was " + value);
        }
        if (kind == Kind.BLOCKS && value == 0) {
            throw new IllegalArgumentException("budget of 0 blocks leaves no room for the tail block");
        }
    }

    public static Budget fraction(double f) {
        return new Budget(Kind.FRACTION, f);
    }

    public static Budget blocks(int n) {
        return new Budget(Kind.BLOCKS, n);
    }

    /** Parses {@code 0.25}, {@code 25%}, {@code 64b} or {@code 64blocks}. */
    public static Budget parse(String text) {
        String s = text.trim().toLowerCase(Locale.ROOT);
        try {
            if (s.endsWith("blocks") || s.endsWith("b")) {
                String n = s.substring(0, s.length() - (s.endsWith("blocks") ? 6 : 1)).trim();
                return new Budget(Kind.BLOCKS, Long.parseLong(n));
            }
            if (s.endsWith("%")) {
                return fraction(Double.parseDouble(s.substring(0, s.length() - 1).trim()) / 100.0);
            }
            return fraction(Double.parseDouble(s));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("budget '" + text + "' is neither a fraction in (0, 1] nor a block count like 64b");
        }
    }

    /** The budget in tokens for a reference of {@code tokens} tokens and blocks of {@code blockSize} tokens (at least 1). */
    public int tokens(int reference, int blockSize) {
        if (kind == Kind.BLOCKS) {
            return (int) Math.min(Integer.MAX_VALUE, (long) value * blockSize);
        }
        return Math.max(1, (int) Math.floor(reference * value));
    }

    /** The budget in blocks, rounding a fraction down but never below one block. */
    public int blocks(int reference, int blockSize) {
        if (kind == Kind.BLOCKS) {
            return (int) value;
        }
        return Math.max(1, tokens(reference, blockSize) / blockSize);
    }

    @Override
    public String toString() {
        return kind == Kind.BLOCKS ? ((long) value) + "b" : Double.toString(value);
    }
}

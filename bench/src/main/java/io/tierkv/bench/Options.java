package io.tierkv.bench;

/** Checks of option values, each failing with one line that names the option and the value. */
final class Options {
    private Options() {
    }

    static int positive(String option, int value) {
        if (value <= 0) {
            throw new IllegalArgumentException(option + " must be > 0, was " + value);
        }
        return value;
    }

    static int atLeast(String option, int value, int min) {
        if (value < min) {
            throw new IllegalArgumentException(option + " must be >= " + min + ", was " + value);
        }
        return value;
    }

    static int inRange(String option, int value, int min, int max) {
        if (value < min || value > max) {
            throw new IllegalArgumentException(option + " must be in [" + min + ", " + max + "], was " + value);
        }
        return value;
    }

    /** A fraction in (0, 1]. */
    static double fraction(String option, double value) {
        if (!(value > 0 && value <= 1)) {
            throw new IllegalArgumentException(option + " must be a fraction in (0, 1], was " + value);
        }
        return value;
    }

    static double nonNegativeFinite(String option, double value) {
        if (!(value >= 0) || Double.isInfinite(value)) {
            throw new IllegalArgumentException(option + " must be >= 0 and finite, was " + value);
        }
        return value;
    }
}

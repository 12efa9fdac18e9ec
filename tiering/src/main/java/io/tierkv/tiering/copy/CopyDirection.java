package io.tierkv.tiering.copy;

/** Which way a block copy goes. */
public enum CopyDirection {
    /** Demotion: device tier to host tier. */
    DEVICE_TO_HOST,
    /** Promotion: host tier to device tier. */
    HOST_TO_DEVICE;

    private static final CopyDirection[] BY_CODE = values();

    /** This direction as an int code (its ordinal), for primitive descriptors. */
    public int code() {
        return ordinal();
    }

    /** The direction of an int code. */
    public static CopyDirection of(int code) {
        return BY_CODE[code];
    }

    /** Short name for reports: {@code d2h} or {@code h2d}. */
    public String shortName() {
        return this == DEVICE_TO_HOST ? "d2h" : "h2d";
    }
}

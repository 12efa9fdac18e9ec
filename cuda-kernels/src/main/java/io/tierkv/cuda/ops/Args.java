package io.tierkv.cuda.ops;

/** Host-side checks of kernel arguments, so that a bad address or size fails in Java, not as a device fault. */
final class Args {
    private Args() {
    }

    /** {@code address} must be non-zero and a multiple of {@code alignment} bytes. */
    static void address(String what, long address, int alignment) {
        if (address == 0) {
            throw new IllegalArgumentException(what + " must be a device address, not 0");
        }
        if (address % alignment != 0) {
            throw new IllegalArgumentException(what + " must be " + alignment + "-byte aligned, was 0x" + Long.toHexString(address));
        }
    }

    /** As {@link #address} but 0 (absent) is allowed. */
    static void optionalAddress(String what, long address, int alignment) {
        if (address != 0) {
            address(what, address, alignment);
        }
    }

    static void positive(String what, long v) {
        LaunchPlans.positive(what, v);
    }
}

package io.tierkv.cuda.driver;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** Test helper for other packages: a {@link LaunchArgs} over a heap buffer (no context), and its argument bytes. */
public final class HeapLaunchArgs {
    private HeapLaunchArgs() {
    }

    /** Room for {@code capacity} bytes of arguments, at a made-up host address. */
    public static LaunchArgs create(int capacity) {
        ByteBuffer whole = ByteBuffer.allocate(LaunchArgs.ARGS_OFFSET + capacity).order(ByteOrder.nativeOrder());
        return new LaunchArgs(null, whole, 0x7f00_0000_1000L, capacity);
    }

    /** The arguments packed so far, native order. */
    public static ByteBuffer bytes(LaunchArgs a) {
        return a.bytes();
    }
}

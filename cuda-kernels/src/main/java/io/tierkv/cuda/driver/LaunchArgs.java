package io.tierkv.cuda.driver;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import jcuda.Pointer;

/**
 * A kernel's arguments packed into one buffer, passed to {@code cuLaunchKernel} through its {@code extra} parameter
 * ({@code CU_LAUNCH_PARAM_BUFFER_POINTER}), so that a launch hands JCuda a single native pointer.
 *
 * <p>Why: JCuda marshals {@code kernelParams} given as {@code Pointer.to(Pointer.to(long[]), ...)} argument by
 * argument (a global reference, a Java upcall for the backing array and a critical array section each, then the
 * same on release), which costs microseconds per argument: 14 to 27 µs for a 13-argument launch on this project's
 * 2-core build machine against a stub driver, 0.5 µs for the packed form. At that price the host, not the GPU,
 * set the pace of short kernels (the popularity kernel's two launches took about 22 µs at every size on an H200).
 *
 * <p>Layout (the driver's parameter-buffer ABI): arguments in declaration order, each at the next multiple of its
 * own size (8 for pointers and {@code long long}, 4 for {@code int} and {@code float}). The buffer lives in a small
 * pinned allocation whose host address is known, with the five-entry {@code extra} array in front of it:
 * {@code {BUFFER_POINTER, &args, BUFFER_SIZE, &size, END}}. The driver copies the arguments during the launch call,
 * so the buffer is refilled for the next launch at once. Not thread-safe: one instance per launching object.
 */
public final class LaunchArgs implements AutoCloseable {
    static final int EXTRA_BYTES = 48;   // five pointers, padded to 16
    static final int SIZE_OFFSET = 40;   // size_t of the argument bytes
    static final int ARGS_OFFSET = EXTRA_BYTES + 16;

    private final PinnedBuffer memory;
    private final ByteBuffer args;
    private final ByteBuffer header;
    private final int capacity;
    private int size;

    /** Room for {@code capacity} bytes of arguments (at most 4096, the driver's limit), in pinned memory of {@code context}. */
    public LaunchArgs(CudaContext context, int capacity) {
        this(new PinnedBuffer(context, ARGS_OFFSET + (long) checkCapacity(capacity)), capacity);
    }

    private LaunchArgs(PinnedBuffer memory, int capacity) {
        this(memory, memory.buffer(0, ARGS_OFFSET + capacity), memory.address(), capacity);
    }

    /** Over {@code whole} ({@code ARGS_OFFSET + capacity} bytes at host address {@code base}); {@code memory} may be null in tests. */
    LaunchArgs(PinnedBuffer memory, ByteBuffer whole, long base, int capacity) {
        this.capacity = checkCapacity(capacity);
        this.memory = memory;
        this.header = whole.duplicate().order(ByteOrder.nativeOrder());
        this.args = whole.duplicate().position(ARGS_OFFSET).slice().order(ByteOrder.nativeOrder());
        // The extra array; the driver's constants are CU_LAUNCH_PARAM_BUFFER_POINTER = 1, _BUFFER_SIZE = 2, _END = 0 (cuda.h).
        header.putLong(0, 1L);
        header.putLong(8, base + ARGS_OFFSET);
        header.putLong(16, 2L);
        header.putLong(24, base + SIZE_OFFSET);
        header.putLong(32, 0L);
    }

    private static int checkCapacity(int capacity) {
        if (capacity <= 0 || capacity > 4096) {
            throw new IllegalArgumentException("capacity must be in [1, 4096] bytes (the driver's limit for kernel parameters), was "
                    + capacity);
        }
        return capacity;
    }

    /** Starts a new argument list. */
    public LaunchArgs clear() {
        size = 0;
        return this;
    }

    /** Appends a device (or UVA host) address, or any 8-byte integer argument ({@code long long}, {@code size_t}). */
    public LaunchArgs i64(long value) {
        args.putLong(reserve(8), value);
        return this;
    }

    /** Appends an {@code int} (or {@code unsigned}). */
    public LaunchArgs i32(int value) {
        args.putInt(reserve(4), value);
        return this;
    }

    /** Appends a {@code float}. */
    public LaunchArgs f32(float value) {
        args.putFloat(reserve(4), value);
        return this;
    }

    /** Bytes of arguments so far. */
    public int size() {
        return size;
    }

    /** The {@code extra} pointer for {@code cuLaunchKernel}, with the current size filled in. */
    Pointer extra() {
        header.putLong(SIZE_OFFSET, size);
        return memory.pointer();
    }

    /** The argument bytes so far (for tests and error messages). */
    ByteBuffer bytes() {
        return args.duplicate().position(0).limit(size).slice().order(ByteOrder.nativeOrder());
    }

    /** The offset of the next argument of {@code bytes} (aligned to its size); throws when the buffer is full. */
    private int reserve(int bytes) {
        int at = (size + bytes - 1) & -bytes;
        if (at + bytes > capacity) {
            throw new IllegalStateException("kernel arguments exceed " + capacity + " bytes");
        }
        size = at + bytes;
        return at;
    }

    /** Frees the pinned buffer; idempotent. */
    @Override
    public void close() {
        if (memory != null) {
            memory.close();
        }
    }
}

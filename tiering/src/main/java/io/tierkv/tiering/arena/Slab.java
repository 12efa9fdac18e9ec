package io.tierkv.tiering.arena;

import io.tierkv.core.memory.MemoryKind;

/**
 * One contiguous allocation of native memory that an arena carves into slots: off-heap memory in the
 * CPU mode, {@code cuMemAlloc} or {@code cuMemHostAlloc} memory on CUDA. Owned by exactly one arena,
 * reported to {@link io.tierkv.core.memory.MemoryLedger} while it lives; {@link #close()} is idempotent.
 *
 * <p>{@link #read} and {@link #write} are slow, synchronous accessors for tests, checks, benchmarks and the remote
 * tier's block copies (a device slab copies through the driver); the hot paths use {@link #address()}.
 */
public interface Slab extends AutoCloseable {

    /** Base address: a host virtual address, or a CUDA device pointer for {@link MemoryKind#DEVICE}. */
    long address();

    /** Usable bytes from {@link #address()}. */
    long bytes();

    /** What kind of memory this is, as reported to the ledger. */
    MemoryKind kind();

    /** True when the CPU may load and store at {@link #address()} directly. */
    boolean hostAccessible();

    /** Copies {@code length} bytes from {@code src[srcOffset..]} to the slab at {@code offset}. */
    void write(long offset, byte[] src, int srcOffset, int length);

    /** Copies {@code length} bytes at {@code offset} of the slab into {@code dst[dstOffset..]}. */
    void read(long offset, byte[] dst, int dstOffset, int length);

    /**
     * {@code n} {@link #write}s from one array: range {@code i} copies {@code lengths[i]} bytes from
     * {@code src[srcOffsets[i]..]} to {@code offsets[i]}. Every range is checked before any byte is written; a device
     * slab stages them together and waits for the driver once, not once per range (a remote block's K and V of every
     * layer are one call).
     */
    void writeRanges(int n, long[] offsets, byte[] src, int[] srcOffsets, int[] lengths);

    /** {@code n} {@link #read}s into one array, the reverse of {@link #writeRanges}, with the same checks and one wait. */
    void readRanges(int n, long[] offsets, byte[] dst, int[] dstOffsets, int[] lengths);

    /** True once closed. */
    boolean isClosed();

    /** Frees the memory; idempotent. */
    @Override
    void close();

    /** Checks an access range against a slab, with a message naming the slab. */
    static void checkRange(Slab slab, long offset, long length, String what) {
        if (slab.isClosed()) {
            throw new IllegalStateException(what + ": the " + slab.kind() + " slab is closed");
        }
        if (offset < 0 || length < 0 || offset > slab.bytes() - length) {
            throw new IndexOutOfBoundsException(what + ": range [" + offset + ", " + offset + " + " + length
                    + ") outside the " + slab.kind() + " slab of " + slab.bytes() + " bytes");
        }
    }
}

package io.tierkv.tiering.arena;

import io.tierkv.core.memory.MemoryKind;
import io.tierkv.core.memory.MemoryLedger;
import org.agrona.UnsafeApi;

/**
 * Aligned off-heap memory from {@code Unsafe.allocateMemory}: both tiers of the CPU mode. The memory is
 * zeroed on allocation (which also touches every page, so that the first copy into it does not pay the
 * page faults) and freed in {@link #close()}, not by the garbage collector. Reported as
 * {@link MemoryKind#OFF_HEAP}, counting the alignment slack.
 */
public final class OffHeapSlab extends AbstractSlab {
    private final long raw;
    private final long rawBytes;
    /** Base of the slab, {@code alignment}-aligned; bytes of any dtype, interpreted by the owner. */
    private final long address;

    /**
     * Allocates {@code bytes} bytes aligned to {@code alignment} (a power of two).
     *
     * @throws IllegalArgumentException for a non-positive size or a bad alignment
     */
    public OffHeapSlab(long bytes, int alignment) {
        super(MemoryKind.OFF_HEAP, bytes);
        if (bytes <= 0) {
            throw new IllegalArgumentException("slab bytes must be > 0, was " + bytes);
        }
        if (alignment <= 0 || Integer.bitCount(alignment) != 1) {
            throw new IllegalArgumentException("slab alignment must be a power of two, was " + alignment);
        }
        this.rawBytes = bytes + alignment - 1;
        this.raw = allocate(rawBytes);
        this.address = (raw + alignment - 1) & -(long) alignment;
        UnsafeApi.setMemory(address, bytes, (byte) 0);
        MemoryLedger.allocated(MemoryKind.OFF_HEAP, rawBytes);
    }

    private static long allocate(long bytes) {
        try {
            return UnsafeApi.allocateMemory(bytes);
        } catch (OutOfMemoryError e) {
            throw new IllegalStateException("cannot allocate an off-heap slab of " + bytes + " bytes: " + e.getMessage(), e);
        }
    }

    @Override
    public long address() {
        if (isClosed()) {
            throw new IllegalStateException("off-heap slab is closed");
        }
        return address;
    }

    @Override
    void free() {
        UnsafeApi.freeMemory(raw);
        MemoryLedger.freed(MemoryKind.OFF_HEAP, rawBytes);
    }

    @Override
    public String toString() {
        return "OffHeapSlab[" + bytes() + " bytes @ 0x" + Long.toHexString(address) + (isClosed() ? ", closed]" : "]");
    }
}

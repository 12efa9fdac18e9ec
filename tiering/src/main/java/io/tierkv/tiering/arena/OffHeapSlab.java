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
public final class OffHeapSlab implements Slab {
    private final long raw;
    private final long rawBytes;
    /** Base of the slab, {@code alignment}-aligned; bytes of any dtype, interpreted by the owner. */
    private final long address;
    private final long bytes;
    private boolean closed;

    /**
     * Allocates {@code bytes} bytes aligned to {@code alignment} (a power of two).
     *
     * @throws IllegalArgumentException for a non-positive size or a bad alignment
     */
    public OffHeapSlab(long bytes, int alignment) {
        if (bytes <= 0) {
            throw new IllegalArgumentException("slab bytes must be > 0, was " + bytes);
        }
        if (alignment <= 0 || Integer.bitCount(alignment) != 1) {
            throw new IllegalArgumentException("slab alignment must be a power of two, was " + alignment);
        }
        this.rawBytes = bytes + alignment - 1;
        this.raw = allocate(rawBytes);
        this.address = (raw + alignment - 1) & -(long) alignment;
        this.bytes = bytes;
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
        if (closed) {
            throw new IllegalStateException("off-heap slab is closed");
        }
        return address;
    }

    @Override
    public long bytes() {
        return bytes;
    }

    @Override
    public MemoryKind kind() {
        return MemoryKind.OFF_HEAP;
    }

    @Override
    public boolean hostAccessible() {
        return true;
    }

    @Override
    public void write(long offset, byte[] src, int srcOffset, int length) {
        Slab.checkRange(this, offset, length, "write");
        java.util.Objects.checkFromIndexSize(srcOffset, length, src.length);
        UnsafeApi.copyMemory(src, UnsafeApi.arrayBaseOffset(byte[].class) + srcOffset, null, address + offset, length);
    }

    @Override
    public void read(long offset, byte[] dst, int dstOffset, int length) {
        Slab.checkRange(this, offset, length, "read");
        java.util.Objects.checkFromIndexSize(dstOffset, length, dst.length);
        UnsafeApi.copyMemory(null, address + offset, dst, UnsafeApi.arrayBaseOffset(byte[].class) + dstOffset, length);
    }

    @Override
    public boolean isClosed() {
        return closed;
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        UnsafeApi.freeMemory(raw);
        MemoryLedger.freed(MemoryKind.OFF_HEAP, rawBytes);
    }

    @Override
    public String toString() {
        return "OffHeapSlab[" + bytes + " bytes @ 0x" + Long.toHexString(address) + (closed ? ", closed]" : "]");
    }
}

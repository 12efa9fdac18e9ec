package io.tierkv.tiering.arena;

import io.tierkv.core.memory.MemoryKind;
import java.util.Objects;
import org.agrona.UnsafeApi;

/**
 * What every slab shares: its kind and size, the idempotent close, and the argument checks of the slow
 * accessors. Host memory (off-heap or pinned) is copied with {@code Unsafe} at {@link #address()}; a device
 * slab overrides {@link #copyIn} and {@link #copyOut} to go through the driver. Subclasses free their memory
 * in {@link #free()}.
 */
abstract class AbstractSlab implements Slab {
    private final MemoryKind kind;
    private final long bytes;
    private boolean closed;

    AbstractSlab(MemoryKind kind, long bytes) {
        this.kind = kind;
        this.bytes = bytes;
    }

    @Override
    public long bytes() {
        return bytes;
    }

    @Override
    public MemoryKind kind() {
        return kind;
    }

    /** Device memory is the one kind the CPU cannot load and store directly. */
    @Override
    public boolean hostAccessible() {
        return kind != MemoryKind.DEVICE;
    }

    @Override
    public final void write(long offset, byte[] src, int srcOffset, int length) {
        Slab.checkRange(this, offset, length, "write");
        Objects.checkFromIndexSize(srcOffset, length, src.length);
        copyIn(offset, src, srcOffset, length);
    }

    @Override
    public final void read(long offset, byte[] dst, int dstOffset, int length) {
        Slab.checkRange(this, offset, length, "read");
        Objects.checkFromIndexSize(dstOffset, length, dst.length);
        copyOut(offset, dst, dstOffset, length);
    }

    @Override
    public final void writeRanges(int n, long[] offsets, byte[] src, int[] srcOffsets, int[] lengths) {
        checkRanges(n, offsets, src, srcOffsets, lengths, "write");
        copyInRanges(n, offsets, src, srcOffsets, lengths);
    }

    @Override
    public final void readRanges(int n, long[] offsets, byte[] dst, int[] dstOffsets, int[] lengths) {
        checkRanges(n, offsets, dst, dstOffsets, lengths, "read");
        copyOutRanges(n, offsets, dst, dstOffsets, lengths);
    }

    private void checkRanges(int n, long[] offsets, byte[] array, int[] arrayOffsets, int[] lengths, String what) {
        if (n < 0 || n > offsets.length || n > arrayOffsets.length || n > lengths.length) {
            throw new IndexOutOfBoundsException(what + ": " + n + " ranges, but the arrays hold " + offsets.length + " offsets, "
                    + arrayOffsets.length + " array offsets and " + lengths.length + " lengths");
        }
        for (int i = 0; i < n; i++) {
            Slab.checkRange(this, offsets[i], lengths[i], what + " range " + i);
            Objects.checkFromIndexSize(arrayOffsets[i], lengths[i], array.length);
        }
    }

    /** Copies checked ranges into the slab, one {@link #copyIn} each by default. */
    void copyInRanges(int n, long[] offsets, byte[] src, int[] srcOffsets, int[] lengths) {
        for (int i = 0; i < n; i++) {
            copyIn(offsets[i], src, srcOffsets[i], lengths[i]);
        }
    }

    /** Copies checked ranges out of the slab, one {@link #copyOut} each by default. */
    void copyOutRanges(int n, long[] offsets, byte[] dst, int[] dstOffsets, int[] lengths) {
        for (int i = 0; i < n; i++) {
            copyOut(offsets[i], dst, dstOffsets[i], lengths[i]);
        }
    }

    /** Copies checked ranges from {@code src} into the slab; host memory by default. */
    void copyIn(long offset, byte[] src, int srcOffset, int length) {
        UnsafeApi.copyMemory(src, UnsafeApi.arrayBaseOffset(byte[].class) + srcOffset, null, address() + offset, length);
    }

    /** Copies checked ranges from the slab into {@code dst}; host memory by default. */
    void copyOut(long offset, byte[] dst, int dstOffset, int length) {
        UnsafeApi.copyMemory(null, address() + offset, dst, UnsafeApi.arrayBaseOffset(byte[].class) + dstOffset, length);
    }

    @Override
    public boolean isClosed() {
        return closed;
    }

    /** Frees the memory once; later calls do nothing. */
    @Override
    public final void close() {
        if (!closed) {
            closed = true;
            free();
        }
    }

    /** Returns the memory; called once, by {@link #close()}. */
    abstract void free();
}

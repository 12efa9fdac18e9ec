package io.tierkv.model.io;

import java.nio.MappedByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.agrona.IoUtil;

/**
 * The owner of memory-mapped file regions (the tensors of a checkpoint): tensors are views over them, so they
 * stay mapped until {@link #close()}, which unmaps them at once rather than whenever the garbage collector
 * gets to the buffers. Mapped pages are the page cache's: resident when read, shared with every other
 * process mapping the file, and dropped under memory pressure without being written anywhere.
 */
public final class MappedRegions implements AutoCloseable {
    private final List<MappedByteBuffer> regions = new ArrayList<>();
    private long bytes;
    private boolean closed;

    /** Takes ownership of a mapped buffer. */
    public synchronized MappedByteBuffer add(MappedByteBuffer region) {
        if (closed) {
            throw new IllegalStateException("closed");
        }
        regions.add(region);
        bytes += region.capacity();
        return region;
    }

    /** Bytes mapped. */
    public synchronized long bytes() {
        return bytes;
    }

    /** Unmaps every region; nothing may read them afterwards. Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (MappedByteBuffer b : regions) {
            IoUtil.unmap(b);
        }
        regions.clear();
    }
}

package io.tierkv.tiering.copy;

/** The mutable counters behind {@link CopyStats}; updated on the owner thread as copies are reaped. */
final class CopyCounters {
    static final int HISTOGRAM_BUCKETS = 32;

    private final long slotBytes;
    private final long[] bytes = new long[2];
    private final long[] blocks = new long[2];
    private final long[] copies = new long[2];
    private final long[] nanos = new long[2];
    private final long[] histogram = new long[HISTOGRAM_BUCKETS];
    private long failedCopies;
    private long failedBlocks;
    private long minBytes = Long.MAX_VALUE;
    private long maxBytes;

    CopyCounters(long slotBytes) {
        this.slotBytes = slotBytes;
    }

    void record(CopyDirection direction, int slots, boolean ok, long copyNanos) {
        int d = direction.code();
        nanos[d] += copyNanos;
        if (!ok) {
            failedCopies++;
            failedBlocks += slots;
            return;
        }
        long b = slots * slotBytes;
        bytes[d] += b;
        blocks[d] += slots;
        copies[d]++;
        histogram[31 - Integer.numberOfLeadingZeros(slots)]++;
        minBytes = Math.min(minBytes, b);
        maxBytes = Math.max(maxBytes, b);
    }

    CopyStats snapshot() {
        int d = CopyDirection.DEVICE_TO_HOST.code();
        int h = CopyDirection.HOST_TO_DEVICE.code();
        return new CopyStats(bytes[d], blocks[d], copies[d], nanos[d], bytes[h], blocks[h], copies[h], nanos[h],
                failedCopies, failedBlocks, minBytes == Long.MAX_VALUE ? 0 : minBytes, maxBytes, histogram.clone());
    }
}

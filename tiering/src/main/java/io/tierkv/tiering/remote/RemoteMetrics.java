package io.tierkv.tiering.remote;

import org.HdrHistogram.Recorder;
import org.HdrHistogram.Histogram;

import java.util.concurrent.atomic.LongAdder;

/**
 * The remote tier's counters, each declared once. Written from the caller's thread and from Lettuce's
 * event loops, so every counter is a {@link LongAdder} and latencies go through HdrHistogram
 * {@link Recorder}s (wait-free recording, interval snapshots).
 */
final class RemoteMetrics {
    private static final long MAX_MICROS = 60_000_000L; // 1 minute: anything longer is recorded as 1 minute

    final LongAdder lookups = new LongAdder();
    final LongAdder blocksLookedUp = new LongAdder();
    final LongAdder hits = new LongAdder();
    final LongAdder misses = new LongAdder();
    final LongAdder invalid = new LongAdder();
    final LongAdder failed = new LongAdder();
    final LongAdder prefixBlocksHit = new LongAdder();
    final LongAdder writes = new LongAdder();
    final LongAdder writesDropped = new LongAdder();
    final LongAdder writesSkipped = new LongAdder();
    final LongAdder bytesRead = new LongAdder();
    final LongAdder bytesWritten = new LongAdder();

    private final Recorder lookupLatency = new Recorder(3);
    private final Recorder writeLatency = new Recorder(3);
    private final Histogram lookupTotal = new Histogram(MAX_MICROS, 3);
    private final Histogram writeTotal = new Histogram(MAX_MICROS, 3);

    void recordLookup(long nanos) {
        lookupLatency.recordValue(Math.min(MAX_MICROS, nanos / 1000));
    }

    void recordWrite(long nanos) {
        writeLatency.recordValue(Math.min(MAX_MICROS, nanos / 1000));
    }

    /** A snapshot of every counter and of the latencies since the tier opened. */
    synchronized RemoteStats snapshot() {
        lookupTotal.add(lookupLatency.getIntervalHistogram());
        writeTotal.add(writeLatency.getIntervalHistogram());
        return new RemoteStats(lookups.sum(), blocksLookedUp.sum(), hits.sum(), misses.sum(), invalid.sum(),
                failed.sum(), prefixBlocksHit.sum(), writes.sum(), writesDropped.sum(), writesSkipped.sum(),
                bytesRead.sum(), bytesWritten.sum(),
                lookupTotal.getValueAtPercentile(50), lookupTotal.getValueAtPercentile(99), lookupTotal.getMaxValue(),
                writeTotal.getValueAtPercentile(50), writeTotal.getValueAtPercentile(99), writeTotal.getMaxValue());
    }
}

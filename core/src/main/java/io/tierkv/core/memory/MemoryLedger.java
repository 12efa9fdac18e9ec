package io.tierkv.core.memory;

import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Process-wide accounting of native memory by kind: every owner of native memory reports what it
 * allocates and frees, so that {@link #outstanding} returns to its earlier value once everything is
 * closed. Tests take a {@link #snapshot()} before and compare after.
 */
public final class MemoryLedger {
    private static final Map<MemoryKind, AtomicLong> BYTES = new EnumMap<>(MemoryKind.class);
    private static final Map<MemoryKind, AtomicLong> PEAK = new EnumMap<>(MemoryKind.class);
    private static final Map<MemoryKind, AtomicLong> ALLOCATIONS = new EnumMap<>(MemoryKind.class);

    static {
        for (MemoryKind k : MemoryKind.values()) {
            BYTES.put(k, new AtomicLong());
            PEAK.put(k, new AtomicLong());
            ALLOCATIONS.put(k, new AtomicLong());
        }
    }

    private MemoryLedger() {
    }

    /** Records an allocation of {@code bytes} of {@code kind}. */
    public static void allocated(MemoryKind kind, long bytes) {
        if (bytes < 0) {
            throw new IllegalArgumentException("bytes must be >= 0, was " + bytes);
        }
        AtomicLong handles = ALLOCATIONS.get(kind);
        long now;
        synchronized (handles) { // with freed(): bytes and allocations change together
            now = BYTES.get(kind).addAndGet(bytes);
            handles.incrementAndGet();
        }
        PEAK.get(kind).accumulateAndGet(now, Math::max);
    }

    /**
     * Records that {@code bytes} of {@code kind} were freed. A free of more bytes or allocations than are
     * outstanding (a double free) is rejected before anything changes, so the ledger stays true after it.
     */
    public static void freed(MemoryKind kind, long bytes) {
        if (bytes < 0) {
            throw new IllegalArgumentException("bytes must be >= 0, was " + bytes);
        }
        AtomicLong held = BYTES.get(kind);
        AtomicLong handles = ALLOCATIONS.get(kind);
        synchronized (handles) {
            long now = held.get();
            long live = handles.get();
            if (bytes > now || live == 0) {
                throw new IllegalStateException("more " + kind + " memory freed than allocated (a double free?): " + bytes
                        + " bytes freed, " + now + " outstanding in " + live + " allocations; the ledger is unchanged");
            }
            held.addAndGet(-bytes);
            handles.decrementAndGet();
        }
    }

    /** Bytes of {@code kind} allocated and not yet freed. */
    public static long outstanding(MemoryKind kind) {
        return BYTES.get(kind).get();
    }

    /** Live allocations of {@code kind}. */
    public static long allocations(MemoryKind kind) {
        return ALLOCATIONS.get(kind).get();
    }

    /** The most bytes of {@code kind} ever outstanding at once in this process. */
    public static long peak(MemoryKind kind) {
        return PEAK.get(kind).get();
    }

    /** Outstanding bytes per kind, now. */
    public static Snapshot snapshot() {
        long[] b = new long[MemoryKind.values().length];
        long[] a = new long[b.length];
        for (MemoryKind k : MemoryKind.values()) {
            b[k.ordinal()] = outstanding(k);
            a[k.ordinal()] = allocations(k);
        }
        return new Snapshot(b, a);
    }

    /** Outstanding bytes and allocations per kind at one moment. */
    public record Snapshot(long[] bytes, long[] allocations) {
        /** Bytes of {@code kind} outstanding now beyond this snapshot. */
        public long leakedSince(MemoryKind kind) {
            return outstanding(kind) - bytes[kind.ordinal()];
        }

        /** Throws unless every kind is back where it was. */
        public void assertNoLeaks() {
            StringBuilder sb = new StringBuilder();
            for (MemoryKind k : MemoryKind.values()) {
                long leaked = leakedSince(k);
                long handles = MemoryLedger.allocations(k) - allocations[k.ordinal()];
                if (leaked != 0 || handles != 0) {
                    sb.append(' ').append(k).append(": ").append(leaked).append(" bytes in ").append(handles).append(" allocations;");
                }
            }
            if (sb.length() > 0) {
                throw new IllegalStateException("native memory leaked:" + sb);
            }
        }
    }
}

package io.tierkv.tiering.remote;

import java.time.Duration;
import java.util.function.Consumer;

/**
 * How the remote tier talks to its store. Every default lives here, with its reason.
 *
 * @param uri                   where the store is
 * @param lookupTimeout         how long a prompt's lookup may wait for its blocks; whatever has not arrived by
 *                              then is a miss. It bounds what a sick store adds to time to first token
 * @param writeTimeout          how long a write may stay unanswered before it is dropped (and counted)
 * @param connectTimeout        how long to wait for a TCP connection, and for the first connection when the
 *                              tier opens (a store that is down at start is retried in the background)
 * @param reconnectMaxDelay     the longest wait between reconnection attempts (they back off exponentially)
 * @param ttl                   expiry of each written block; {@link Duration#ZERO} for none (Redis then
 *                              evicts by its own {@code maxmemory-policy})
 * @param writePolicy           which full blocks are written
 * @param maxInFlightWriteBytes writes beyond this many unanswered bytes are dropped rather than queued, so a
 *                              slow store cannot grow this process's heap
 * @param warnings              where the one warning line goes (standard error by default)
 */
public record RemoteConfig(RemoteUri uri, Duration lookupTimeout, Duration writeTimeout, Duration connectTimeout,
                           Duration reconnectMaxDelay, Duration ttl, WritePolicy writePolicy,
                           long maxInFlightWriteBytes, Consumer<String> warnings) {

    /** Which full blocks the tier writes to the store. */
    public enum WritePolicy {
        /** Every full prompt block, when it fills (write-through). */
        ALWAYS,
        /**
         * A block only the second time this process offers it (LMCache's and SGLang HiCache's selective
         * write-through): one-off prompts cost no store memory or bandwidth.
         */
        SEEN_TWICE
    }

    /**
     * 200 ms: a loopback or same-rack GET of a few MiB answers in 1-5 ms, so only a sick store waits this long,
     * and then it adds at most this much to one prompt's time to first token; the slack over 5 ms absorbs
     * scheduling delays on a loaded machine (a 2-core CI runner).
     */
    public static final Duration DEFAULT_LOOKUP_TIMEOUT = Duration.ofMillis(200);
    /** 2 s: writes are off the critical path, but one that hangs keeps its bytes in flight. */
    public static final Duration DEFAULT_WRITE_TIMEOUT = Duration.ofSeconds(2);
    /** 1 s: loopback and LAN connections take microseconds to milliseconds. */
    public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(1);
    /** 1 s: Lettuce's default backs off to 30 s, long enough to miss a restarted server for half a minute. */
    public static final Duration DEFAULT_RECONNECT_MAX_DELAY = Duration.ofSeconds(1);
    /** No expiry: blocks are immutable, so age alone never makes one wrong; Redis's maxmemory policy evicts. */
    public static final Duration DEFAULT_TTL = Duration.ZERO;
    /** 256 MiB: a few hundred blocks of a 7B model in fp16, well beyond what one prompt writes. */
    public static final long DEFAULT_MAX_IN_FLIGHT_WRITE_BYTES = 256L << 20;

    public RemoteConfig {
        if (uri == null) {
            throw new IllegalArgumentException("remote config needs a URI");
        }
        requirePositive("lookupTimeout", lookupTimeout);
        requirePositive("writeTimeout", writeTimeout);
        requirePositive("connectTimeout", connectTimeout);
        requirePositive("reconnectMaxDelay", reconnectMaxDelay);
        if (ttl == null || ttl.isNegative()) {
            throw new IllegalArgumentException("ttl must be >= 0 (0 = no expiry), was " + ttl);
        }
        if (writePolicy == null) {
            throw new IllegalArgumentException("writePolicy must not be null");
        }
        if (maxInFlightWriteBytes <= 0) {
            throw new IllegalArgumentException("maxInFlightWriteBytes must be > 0, was " + maxInFlightWriteBytes);
        }
        if (warnings == null) {
            throw new IllegalArgumentException("warnings must not be null");
        }
    }

    /** The defaults for the store at {@code uri} ({@code redis://...} or {@code redis-cluster://...}). */
    public static RemoteConfig of(String uri) {
        return new RemoteConfig(RemoteUri.parse(uri), DEFAULT_LOOKUP_TIMEOUT, DEFAULT_WRITE_TIMEOUT,
                DEFAULT_CONNECT_TIMEOUT, DEFAULT_RECONNECT_MAX_DELAY, DEFAULT_TTL, WritePolicy.ALWAYS,
                DEFAULT_MAX_IN_FLIGHT_WRITE_BYTES, line -> System.err.println(line));
    }

    public RemoteConfig withLookupTimeout(Duration d) {
        return new RemoteConfig(uri, d, writeTimeout, connectTimeout, reconnectMaxDelay, ttl, writePolicy,
                maxInFlightWriteBytes, warnings);
    }

    public RemoteConfig withWriteTimeout(Duration d) {
        return new RemoteConfig(uri, lookupTimeout, d, connectTimeout, reconnectMaxDelay, ttl, writePolicy,
                maxInFlightWriteBytes, warnings);
    }

    public RemoteConfig withReconnectMaxDelay(Duration d) {
        return new RemoteConfig(uri, lookupTimeout, writeTimeout, connectTimeout, d, ttl, writePolicy,
                maxInFlightWriteBytes, warnings);
    }

    public RemoteConfig withTtl(Duration d) {
        return new RemoteConfig(uri, lookupTimeout, writeTimeout, connectTimeout, reconnectMaxDelay, d, writePolicy,
                maxInFlightWriteBytes, warnings);
    }

    public RemoteConfig withWritePolicy(WritePolicy p) {
        return new RemoteConfig(uri, lookupTimeout, writeTimeout, connectTimeout, reconnectMaxDelay, ttl, p,
                maxInFlightWriteBytes, warnings);
    }

    public RemoteConfig withMaxInFlightWriteBytes(long bytes) {
        return new RemoteConfig(uri, lookupTimeout, writeTimeout, connectTimeout, reconnectMaxDelay, ttl, writePolicy,
                bytes, warnings);
    }

    public RemoteConfig withWarnings(Consumer<String> w) {
        return new RemoteConfig(uri, lookupTimeout, writeTimeout, connectTimeout, reconnectMaxDelay, ttl, writePolicy,
                maxInFlightWriteBytes, w);
    }

    private static void requirePositive(String name, Duration d) {
        if (d == null || d.isZero() || d.isNegative()) {
            throw new IllegalArgumentException(name + " must be > 0, was " + d);
        }
    }
}

package io.tierkv.tiering.remote;

import io.lettuce.core.AbstractRedisClient;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.RedisURI;
import io.lettuce.core.SetArgs;
import io.lettuce.core.SocketOptions;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.api.StatefulConnection;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.cluster.ClusterClientOptions;
import io.lettuce.core.cluster.ClusterTopologyRefreshOptions;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import io.lettuce.core.codec.ByteArrayCodec;
import io.lettuce.core.codec.RedisCodec;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.Delay;
import io.lettuce.core.resource.DefaultClientResources;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * Byte values under string keys in Redis, standalone or Cluster, through Lettuce's asynchronous API, such
 * that no fault of the store ever reaches the caller: {@link #getAll} returns {@code null} for each key that
 * is missing, failed or not answered in time, and {@link #put} drops a write it cannot make and counts it.
 *
 * <p>Faults and what answers them:
 * <ul>
 *   <li>down at start: the first connection is tried for {@code connectTimeout}, then again in the background
 *       (backing off to {@code reconnectMaxDelay}) whenever a call finds none;</li>
 *   <li>down later or restarted: Lettuce's watchdog reconnects (same backoff); meanwhile commands are
 *       rejected at once ({@code REJECT_COMMANDS}) instead of queueing;</li>
 *   <li>slow: a lookup waits at most {@code lookupTimeout} and cancels the rest; a write times out after
 *       {@code writeTimeout} (Lettuce's command timeout); more than {@code maxInFlightWriteBytes} unanswered
 *       bytes drops new writes;</li>
 *   <li>full ({@code maxmemory} with {@code noeviction}): the store answers writes with {@code OOM}: dropped;</li>
 *   <li>a Cluster master lost: its slots' keys fail or time out (misses); the other masters' keys still
 *       answer (servers started with {@code cluster-require-full-coverage no}); topology refreshes adaptively.</li>
 * </ul>
 * The first fault prints one warning line; the counters carry the rest.
 *
 * <p>Keys are sent as individual pipelined GETs rather than one MGET: on a Cluster an MGET over many slots
 * fails whole when one master is gone, and per-key futures let a lookup keep the keys that did answer.
 * Lettuce writes them back to back on one connection per node, so the round trips overlap.
 */
final class RedisBlockStore implements AutoCloseable {
    private static final RedisCodec<String, byte[]> CODEC = RedisCodec.of(StringCodec.UTF8, ByteArrayCodec.INSTANCE);

    private final RemoteConfig config;
    private final RemoteMetrics metrics;
    private final ClientResources resources;
    private final AbstractRedisClient client;
    private final AtomicBoolean connecting = new AtomicBoolean();
    private final AtomicBoolean warned = new AtomicBoolean();
    private final AtomicLong inFlightWriteBytes = new AtomicLong();
    private final AtomicLong inFlightWrites = new AtomicLong();
    private volatile StatefulConnection<String, byte[]> connection;
    private volatile RedisClusterAsyncCommands<String, byte[]> commands;
    private volatile long nextConnectNanos;
    private volatile long connectBackoffNanos;
    private volatile boolean closed;

    RedisBlockStore(RemoteConfig config, RemoteMetrics metrics) {
        this.config = config;
        this.metrics = metrics;
        this.resources = DefaultClientResources.builder()
                .ioThreadPoolSize(2)
                .computationThreadPoolSize(2)
                .reconnectDelay(Delay.exponential(Duration.ofMillis(10), config.reconnectMaxDelay(), 2, TimeUnit.MILLISECONDS))
                .build();
        SocketOptions socket = SocketOptions.builder().connectTimeout(config.connectTimeout()).keepAlive(true).build();
        TimeoutOptions timeouts = TimeoutOptions.enabled(config.writeTimeout());
        RemoteUri uri = config.uri();
        if (uri.cluster()) {
            List<RedisURI> seeds = new ArrayList<>();
            for (RemoteUri.HostPort n : uri.nodes()) {
                seeds.add(redisUri(n, 0));
            }
            RedisClusterClient c = RedisClusterClient.create(resources, seeds);
            c.setOptions(ClusterClientOptions.builder()
                    .autoReconnect(true)
                    .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
                    .socketOptions(socket)
                    .timeoutOptions(timeouts)
                    .topologyRefreshOptions(ClusterTopologyRefreshOptions.builder()
                            .enableAllAdaptiveRefreshTriggers()
                            .enablePeriodicRefresh(Duration.ofSeconds(30))
                            .build())
                    .build());
            this.client = c;
        } else {
            RedisClient c = RedisClient.create(resources);
            c.setOptions(ClientOptions.builder()
                    .autoReconnect(true)
                    .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
                    .socketOptions(socket)
                    .timeoutOptions(timeouts)
                    .build());
            this.client = c;
        }
        CompletableFuture<?> first = connect();
        try {
            first.get(config.connectTimeout().toNanos() * 2, TimeUnit.NANOSECONDS);
            warmUp();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Exception e) {
            // Not connected yet: calls are misses until a background attempt succeeds.
        }
    }

    /**
     * One GET of a key that does not exist, so that the first real lookup does not pay for loading and
     * compiling the command path (tens of milliseconds on a loaded machine, a fair share of the lookup timeout).
     */
    private void warmUp() throws Exception {
        RedisClusterAsyncCommands<String, byte[]> c = commands;
        if (c != null) {
            c.get("tierkv:warm-up").toCompletableFuture().get(config.connectTimeout().toNanos(), TimeUnit.NANOSECONDS);
        }
    }

    private RedisURI redisUri(RemoteUri.HostPort n, int database) {
        return RedisURI.builder().withHost(n.host()).withPort(n.port()).withDatabase(database)
                .withTimeout(config.writeTimeout()).build();
    }

    /** Whether a connection is established (it may still be reconnecting underneath). */
    boolean connected() {
        StatefulConnection<String, byte[]> c = connection;
        return c != null && c.isOpen();
    }

    /**
     * The values of {@code keys}, in order; {@code null} for each key missing, failed or not answered within
     * {@code timeout}. Never throws for the store's faults.
     */
    byte[][] getAll(List<String> keys, Duration timeout) {
        byte[][] out = new byte[keys.size()][];
        RedisClusterAsyncCommands<String, byte[]> cmd = commands();
        if (cmd == null) {
            metrics.failed.add(keys.size());
            warnOnce("not connected");
            return out;
        }
        List<CompletableFuture<byte[]>> futures = new ArrayList<>(keys.size());
        for (String key : keys) {
            futures.add(send(() -> cmd.get(key)));
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        Throwable fault = null;
        for (int i = 0; i < futures.size(); i++) {
            CompletableFuture<byte[]> f = futures.get(i);
            try {
                long left = deadline - System.nanoTime();
                out[i] = f.get(Math.max(0, left), TimeUnit.NANOSECONDS);
                if (out[i] != null) {
                    metrics.bytesRead.add(out[i].length);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                fault = e;
                metrics.failed.increment();
                f.cancel(false);
            } catch (Exception e) {
                fault = fault == null ? e : fault;
                metrics.failed.increment();
                f.cancel(false);
            }
        }
        if (fault != null) {
            warnOnce(describe(fault));
        }
        return out;
    }

    /**
     * Writes {@code value} under {@code key} in the background; returns whether the write was sent (false:
     * dropped at once and counted). A sent write that fails is counted as dropped when the store answers.
     */
    boolean put(String key, byte[] value) {
        long bytes = value.length;
        if (inFlightWriteBytes.addAndGet(bytes) > config.maxInFlightWriteBytes()) {
            inFlightWriteBytes.addAndGet(-bytes);
            metrics.writesDropped.increment();
            warnOnce("more than " + config.maxInFlightWriteBytes() + " bytes of writes unanswered");
            return false;
        }
        RedisClusterAsyncCommands<String, byte[]> cmd = commands();
        if (cmd == null) {
            inFlightWriteBytes.addAndGet(-bytes);
            metrics.writesDropped.increment();
            warnOnce("not connected");
            return false;
        }
        long ttlMillis = config.ttl().toMillis();
        long start = System.nanoTime();
        inFlightWrites.incrementAndGet();
        CompletableFuture<String> f = send(() -> ttlMillis > 0 ? cmd.set(key, value, SetArgs.Builder.px(ttlMillis))
                : cmd.set(key, value));
        f.whenComplete((ok, err) -> {
            inFlightWriteBytes.addAndGet(-bytes);
            if (err == null) {
                metrics.writes.increment();
                metrics.bytesWritten.add(bytes);
                metrics.recordWrite(System.nanoTime() - start);
            } else {
                metrics.writesDropped.increment();
                warnOnce(describe(err));
            }
            inFlightWrites.decrementAndGet();
        });
        return true;
    }

    /** Waits until every sent write was answered, polling up to {@code timeout}; whether none is left. */
    boolean awaitWrites(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (inFlightWrites.get() > 0) {
            if (System.nanoTime() > deadline) {
                return false;
            }
            try {
                Thread.sleep(1);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return true;
    }

    private static <T> CompletableFuture<T> send(Supplier<RedisFuture<T>> command) {
        try {
            return command.get().toCompletableFuture();
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    private RedisClusterAsyncCommands<String, byte[]> commands() {
        RedisClusterAsyncCommands<String, byte[]> c = commands;
        if (c == null && !closed && System.nanoTime() >= nextConnectNanos) {
            connect();
        }
        return commands;
    }

    private CompletableFuture<?> connect() {
        if (!connecting.compareAndSet(false, true)) {
            return CompletableFuture.completedFuture(null);
        }
        CompletableFuture<? extends StatefulConnection<String, byte[]>> f;
        try {
            if (client instanceof RedisClusterClient c) {
                // connectAsync needs the topology first (Lettuce: "Partitions not initialized").
                f = c.refreshPartitionsAsync().toCompletableFuture().thenCompose(v -> c.connectAsync(CODEC));
            } else {
                RemoteUri uri = config.uri();
                f = ((RedisClient) client).connectAsync(CODEC, redisUri(uri.nodes().get(0), uri.database())).toCompletableFuture();
            }
        } catch (RuntimeException e) {
            f = CompletableFuture.failedFuture(e);
        }
        return f.whenComplete((conn, err) -> {
            if (err != null) {
                long backoff = Math.min(config.reconnectMaxDelay().toNanos(),
                        Math.max(TimeUnit.MILLISECONDS.toNanos(10), connectBackoffNanos * 2));
                connectBackoffNanos = backoff;
                nextConnectNanos = System.nanoTime() + backoff;
                warnOnce(describe(err));
            } else if (closed) {
                conn.closeAsync();
            } else {
                connection = conn;
                commands = conn instanceof StatefulRedisClusterConnection<String, byte[]> cc ? cc.async()
                        : ((StatefulRedisConnection<String, byte[]>) conn).async();
                connectBackoffNanos = 0;
            }
            connecting.set(false);
        });
    }

    private void warnOnce(String why) {
        if (!closed && warned.compareAndSet(false, true)) {
            config.warnings().accept("warning: remote tier " + config.uri() + ": " + why
                    + "; lookups count as misses and writes are dropped while it lasts (counted in the remote stats;"
                    + " this line is printed once)");
        }
    }

    private static String describe(Throwable t) {
        Throwable c = t;
        while ((c instanceof ExecutionException || c instanceof CompletionException)
                && c.getCause() != null) {
            c = c.getCause();
        }
        if (c instanceof TimeoutException) {
            return "no answer within the timeout";
        }
        String text = oneLine(c);
        Throwable root = c;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        return root == c ? text : text + " (" + oneLine(root) + ")";
    }

    private static String oneLine(Throwable t) {
        String m = t.getMessage();
        return t.getClass().getSimpleName() + (m == null ? "" : ": " + m.lines().findFirst().orElse(""));
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        // Writes in flight land first (a process that exits right after its prompt still shares it), but
        // never wait longer than a write may take.
        awaitWrites(config.writeTimeout());
        closed = true;
        StatefulConnection<String, byte[]> c = connection;
        if (c != null) {
            c.close();
        }
        client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
        resources.shutdown(0, 2, TimeUnit.SECONDS);
    }
}

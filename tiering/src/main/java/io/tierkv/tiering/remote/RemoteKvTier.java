package io.tierkv.tiering.remote;

import io.tierkv.core.prefix.BlockHash;
import io.tierkv.core.prefix.PrefixChain;
import io.tierkv.core.prefix.PrefixNamespace;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The third tier: full prompt blocks in a shared Redis (standalone or Cluster), named by content
 * ({@link PrefixChain}), so that any process serving the same model and layout finds a prompt's prefix
 * before prefill and skips computing it.
 *
 * <p>Two calls make the seam with the tier manager:
 * <ul>
 *   <li>{@link #lookup}: before prefill, the leading full blocks of the prompt that the store holds (never
 *       the block holding the prompt's last token, whose logits prefill must still compute); the caller
 *       appends that many tokens to its sequence and {@link RemotePrefix#copyInto copies} them in;</li>
 *   <li>{@link #offer}: when a block of prompt tokens is full (and, later, when the host tier must free
 *       one), its bytes are copied out at once and written in the background.</li>
 * </ul>
 * No fault of the store reaches the caller (see {@link RedisBlockStore}); a value that fails its checks
 * ({@link BlockValueDescriptor}) is a miss. Thread-safe; the tier manager's owner thread is the expected caller.
 */
public final class RemoteKvTier implements AutoCloseable {
    /**
     * Hashes remembered (least recently used dropped first) for {@link RemoteConfig.WritePolicy#SEEN_TWICE}
     * and to skip writing blocks a lookup just found: 64 Ki entries, about 10 MiB of heap.
     */
    static final int REMEMBERED_BLOCKS = 1 << 16;

    private enum Seen { ONCE, IN_STORE }

    private final RemoteConfig config;
    private final PrefixNamespace namespace;
    private final BlockValueDescriptor format;
    private final RemoteMetrics metrics = new RemoteMetrics();
    private final RedisBlockStore store;
    private final String keyPrefix;
    private final Map<BlockHash, Seen> seen = Collections.synchronizedMap(new LinkedHashMap<>(1024, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<BlockHash, Seen> eldest) {
            return size() > REMEMBERED_BLOCKS;
        }
    });

    private RemoteKvTier(RemoteConfig config, PrefixNamespace namespace) {
        this.config = config;
        this.namespace = namespace;
        this.format = new BlockValueDescriptor(namespace);
        this.keyPrefix = "tierkv:" + namespace.id() + ":";
        this.store = new RedisBlockStore(config, metrics);
    }

    /**
     * Opens the tier for blocks of {@code namespace}'s model and layout. Returns even when the store is
     * unreachable (it is retried in the background).
     */
    public static RemoteKvTier open(RemoteConfig config, PrefixNamespace namespace) {
        if (config == null || namespace == null) {
            throw new IllegalArgumentException("a remote tier needs a config and a prefix namespace");
        }
        return new RemoteKvTier(config, namespace);
    }

    public PrefixNamespace namespace() {
        return namespace;
    }

    public RemoteConfig config() {
        return config;
    }

    /** The store key of a block: {@code tierkv:<namespace id>:<block hash hex>}. */
    public String key(BlockHash hash) {
        return keyPrefix + hash.hex();
    }

    /** Whether the store is connected now. */
    public boolean connected() {
        return store.connected();
    }

    /**
     * The leading full blocks of {@code tokens[0, length)} that the store holds, at most
     * {@code (length - 1) / blockSize} of them (the last prompt token is always left to prefill). Waits at
     * most the lookup timeout; anything not answered by then is a miss.
     */
    public RemotePrefix lookup(int[] tokens, int length) {
        if (length < 0 || length > tokens.length) {
            throw new IllegalArgumentException("prompt length " + length + " outside [0, " + tokens.length + "]");
        }
        int reusable = length == 0 ? 0 : (length - 1) / namespace.blockSize();
        List<BlockHash> hashes = PrefixChain.hashes(namespace, tokens, reusable * namespace.blockSize());
        return lookup(hashes);
    }

    /** The leading blocks of {@code hashes} (a prompt's chain, in order) that the store holds. */
    public RemotePrefix lookup(List<BlockHash> hashes) {
        long start = System.nanoTime();
        metrics.lookups.increment();
        metrics.blocksLookedUp.add(hashes.size());
        List<String> keys = new ArrayList<>(hashes.size());
        for (BlockHash h : hashes) {
            keys.add(key(h));
        }
        byte[][] values = hashes.isEmpty() ? new byte[0][] : store.getAll(keys, config.lookupTimeout());
        int leading = -1;
        for (int i = 0; i < values.length; i++) {
            boolean ok = values[i] != null && format.check(hashes.get(i), values[i]) == BlockValueDescriptor.Verdict.OK;
            if (ok) {
                metrics.hits.increment();
                seen.put(hashes.get(i), Seen.IN_STORE);
            } else {
                metrics.misses.increment();
                // No longer in the store (evicted, expired, corrupt): a later offer writes it again. A lookup
                // alone does not count as seeing a block, or SEEN_TWICE would write every prompt it computes.
                seen.replace(hashes.get(i), Seen.IN_STORE, Seen.ONCE);
                if (values[i] != null) {
                    metrics.invalid.increment();
                }
                values[i] = null;
                if (leading < 0) {
                    leading = i;
                }
            }
        }
        int n = leading < 0 ? values.length : leading;
        byte[][] prefix = new byte[n][];
        System.arraycopy(values, 0, prefix, 0, n);
        metrics.prefixBlocksHit.add(n);
        metrics.recordLookup(System.nanoTime() - start);
        return new RemotePrefix(format, hashes.subList(0, n), prefix);
    }

    /**
     * Offers full block {@code block} of a sequence, whose content hash is {@code hash}: its K and V of every
     * layer are copied from {@code memory} before this returns (the slots may be reused right after) and
     * written in the background, unless the store is known to hold it or the write policy defers it.
     *
     * @return whether a write was sent
     */
    public boolean offer(BlockHash hash, int block, BlockMemory memory) {
        boolean write;
        synchronized (seen) {
            Seen before = seen.get(hash);
            write = before == Seen.ONCE
                    || (before == null && config.writePolicy() == RemoteConfig.WritePolicy.ALWAYS);
            // Not marked IN_STORE on a write: it may still fail, and only a hit proves the store holds the block.
            if (before == null) {
                seen.put(hash, Seen.ONCE);
            }
        }
        if (!write) {
            metrics.writesSkipped.increment();
            return false;
        }
        return store.put(key(hash), format.encode(hash, block, memory));
    }

    /** Waits, up to {@code timeout}, until every write sent so far was answered; whether none is left. */
    public boolean awaitWrites(Duration timeout) {
        return store.awaitWrites(timeout);
    }

    /** The counters and latency percentiles so far. */
    public RemoteStats stats() {
        return metrics.snapshot();
    }

    /**
     * Waits up to the write timeout for writes in flight, then closes the connection (writes still unanswered
     * are abandoned). Idempotent.
     */
    @Override
    public void close() {
        store.close();
    }
}

package io.tierkv.tiering;

import io.tierkv.core.prefix.BlockHash;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * The full prompt blocks of a manager's sequences by content key ({@link io.tierkv.core.prefix.PrefixChain}'s
 * hash, rooted in the model and KV layout): for each published block, the pool handle of every layer. A sequence
 * whose prompt starts with the same blocks finds them here and holds the same handles instead of computing and
 * storing its own copy.
 *
 * <p>An entry lives while every layer of its block is live: when the last holder of any of its handles lets go
 * ({@link #forget}), the entry goes (the other layers stay with their holders, only no longer findable). The
 * first sequence to publish a key keeps it; a block computed again by another sequence meanwhile stays unshared.
 */
final class PrefixIndex {
    /** Published blocks: key to the handle of each layer. */
    private final Map<BlockHash, int[]> byKey = new HashMap<>();
    /** (handle) the key a live handle is published under, or null. */
    private final BlockHash[] keyOf;

    PrefixIndex(int handles) {
        this.keyOf = new BlockHash[handles];
    }

    /** Publishes one full block's handles (one per layer, all live) under {@code key}, unless the key is taken. */
    void publish(BlockHash key, int[] handles) {
        if (byKey.containsKey(key)) {
            return;
        }
        for (int h : handles) {
            if (keyOf[h] != null) {
                return; // already published under another key (cannot happen for a chain's distinct blocks)
            }
        }
        byKey.put(key, handles.clone());
        for (int h : handles) {
            keyOf[h] = key;
        }
    }

    /** The handles of the block published under {@code key} (do not modify), or null. */
    int[] find(BlockHash key) {
        return byKey.get(key);
    }

    /** Handle {@code h} was freed: the entry it belonged to, if any, goes. */
    void forget(int h) {
        BlockHash key = keyOf[h];
        if (key == null) {
            return;
        }
        for (int other : byKey.remove(key)) {
            keyOf[other] = null;
        }
    }

    /** Published blocks. */
    int size() {
        return byKey.size();
    }

    /** Every published handle is live in {@code pool} and maps back to its key. */
    void checkInvariants(BlockPool pool) {
        int published = 0;
        for (Map.Entry<BlockHash, int[]> e : byKey.entrySet()) {
            for (int h : e.getValue()) {
                if (pool.refs(h) == 0 || keyOf[h] != e.getKey()) {
                    throw new IllegalStateException("prefix " + e.getKey() + " publishes handle " + h + " which is "
                            + (pool.refs(h) == 0 ? "released" : "published elsewhere") + ": " + Arrays.toString(e.getValue()));
                }
                published++;
            }
        }
        long keyed = Arrays.stream(keyOf).filter(k -> k != null).count();
        if (keyed != published) {
            throw new IllegalStateException(keyed + " handles carry a prefix key, " + published + " are published");
        }
    }
}

package io.tierkv.tiering;

import io.tierkv.core.Level;
import io.tierkv.core.block.BlockTable;
import io.tierkv.core.policy.KvPolicy;
import io.tierkv.tiering.arena.SlotArena;
import io.tierkv.tiering.copy.CopyDirection;
import io.tierkv.tiering.copy.CopyEngine;
import java.util.Arrays;

/**
 * Decides where a sequence's blocks should live and starts the copies that get them there. The level
 * says where a block belongs (TierKV's tier mapping of the paper's levels: CACHE and NORMAL on the device,
 * LOW on the host, EVICT freed, which {@link Sequence} does itself); the budgets say how much fits:
 *
 * <ol>
 *   <li>Every settled LOW block on the device that may move goes to the host.</li>
 *   <li>While the blocks committed to the device exceed the device budget, the least popular movable device
 *       blocks go to the host.</li>
 *   <li>Otherwise CACHE/NORMAL blocks waiting on the host come back, most popular first, while the budget
 *       and free device slots allow; and a host block whose level is strictly better than the worst movable
 *       device block swaps places with it. Only a strictly better <em>level</em> swaps, never mere heat, so
 *       residency changes at most once per window and blocks do not ping-pong.</li>
 *   <li>A demotion that finds no host room (the sequence's host budget, or the shared host arena full) drops
 *       the least popular of the sequence's settled host blocks and the block being demoted: the dropped one
 *       is freed and counted.</li>
 * </ol>
 *
 * "Least popular" orders by level (LOW before NORMAL before CACHE), then by heat (the sum of
 * {@link KvPolicy#heat} over the block's live tokens), then by age (older first). Each candidate is one long
 * key, {@code rank(2 bits) | heat(30 bits) | block * layers + layer (31 bits)}, so ranking is a primitive
 * sort; heat is only computed for lists that get sorted. "Movable" means settled (no copy in flight) and
 * below {@code eligibleBelow}: never the tail block, and during an append never a block being written.
 *
 * <p>Demotions are staged in device-slot order and take host slots next to the previous one, promotions the
 * other way round, so that the copy engine can coalesce them into long runs. All scratch arrays are reused.
 */
final class ResidencyPlanner {
    private static final long HEAT_MAX = (1L << 30) - 1;
    private static final long INDEX_MASK = 0x7FFF_FFFFL;

    private final BlockPool pool;
    private final SlotArena device;
    private final SlotArena host;
    private final CopyEngine engine;
    private final TierCounters counters;
    /** Keys of blocks chosen to go to the host. */
    private final KeyList demote = new KeyList();
    /** Keys of settled, movable device blocks above LOW. */
    private final KeyList deviceRank = new KeyList();
    /** Keys of settled host blocks (drop candidates). */
    private final KeyList hostRank = new KeyList();
    /** Keys of settled host blocks at CACHE or NORMAL. */
    private final KeyList promotable = new KeyList();
    /** Keys of blocks chosen to come back. */
    private final KeyList promote = new KeyList();
    /** Scratch: {@code slot << 32 | index} for slot-ordered staging. */
    private long[] order = new long[64];
    private boolean hostRanked;
    private int hostCursor;

    ResidencyPlanner(BlockPool pool, SlotArena device, SlotArena host, CopyEngine engine, TierCounters counters) {
        this.pool = pool;
        this.device = device;
        this.host = host;
        this.engine = engine;
        this.counters = counters;
    }

    /** Brings {@code s} in line with its levels and budgets; see the class comment. */
    void reconcile(Sequence s, int eligibleBelow) {
        scan(s, eligibleBelow);
        int committed = pool.count(s.id(), BlockPool.DEVICE_COMMITTED) - demote.size;
        int budget = s.deviceBudgetBlocks();
        if (committed > budget) {
            rank(s, deviceRank);
            for (int i = 0, n = Math.min(committed - budget, deviceRank.size); i < n; i++) {
                demote.add(deviceRank.keys[i]);
            }
        } else if (promotable.size > 0) {
            rank(s, promotable);
            int p = promotable.size - 1;
            for (int room = budget - committed; room > 0 && p >= 0; room--) {
                promote.add(promotable.keys[p--]);
            }
            if (p >= 0 && deviceRank.size > 0) {
                rank(s, deviceRank);
                for (int d = 0; p >= 0 && d < deviceRank.size && levelOf(promotable.keys[p]) < levelOf(deviceRank.keys[d]); d++) {
                    promote.add(promotable.keys[p--]);
                    demote.add(deviceRank.keys[d]);
                }
            }
        }
        startPromotions(s);
        startDemotions(s);
        enforceHostBudget(s);
        engine.flush();
    }

    /**
     * Drops the least popular settled host blocks while the sequence holds more than its host budget (which a
     * promotion that failed after its slot was given to a demotion can cause).
     */
    private void enforceHostBudget(Sequence s) {
        int over = pool.count(s.id(), BlockPool.HOST_COMMITTED) - s.hostBudgetBlocks();
        if (over <= 0) {
            return;
        }
        if (!hostRanked) {
            rank(s, hostRank);
            hostRanked = true;
        }
        for (; over > 0 && hostCursor < hostRank.size; hostCursor++) {
            long k = hostRank.keys[hostCursor];
            if (isSettledOnHost(s, k)) {
                s.drop(layerOf(k, s.layers()), blockOf(k, s.layers()));
                over--;
            }
        }
    }

    /**
     * Sends up to {@code count} of the least popular movable device blocks of {@code s} to the host (or drops
     * them), whatever their level: room for an append. Returns how many left the device.
     */
    int evictForRoom(Sequence s, int count, int eligibleBelow) {
        scan(s, eligibleBelow);
        for (int i = 0; i < deviceRank.size; i++) {
            demote.add(deviceRank.keys[i]);
        }
        rank(s, demote);
        demote.size = Math.min(demote.size, count);
        int moved = demote.size;
        startDemotions(s);
        engine.flush();
        return moved;
    }

    /** Movable device blocks of {@code s}: settled on the device, below {@code eligibleBelow}. */
    int movableDeviceBlocks(Sequence s, int eligibleBelow) {
        int n = 0;
        for (int l = 0, layers = s.layers(); l < layers; l++) {
            for (int b = 0, end = Math.min(eligibleBelow, s.blocks()); b < end; b++) {
                int h = s.handle(l, b);
                if (h >= 0 && pool.deviceSlot(h) != BlockPool.NONE) {
                    n++;
                }
            }
        }
        return n;
    }

    private void scan(Sequence s, int eligibleBelow) {
        demote.size = 0;
        deviceRank.size = 0;
        hostRank.size = 0;
        promotable.size = 0;
        promote.size = 0;
        hostRanked = false;
        hostCursor = 0;
        BlockTable table = s.table();
        int layers = s.layers();
        for (int l = 0; l < layers; l++) {
            for (int b = 0, n = s.blocks(); b < n; b++) {
                int h = s.handle(l, b);
                if (h < 0) {
                    continue;
                }
                byte state = pool.state(h);
                if (state == BlockPool.DEVICE && b < eligibleBelow) {
                    byte level = table.level(l, b);
                    (level >= Level.LOW_CODE ? demote : deviceRank).add(key(level, 0, l, b, layers));
                } else if (state == BlockPool.HOST) {
                    byte level = table.level(l, b);
                    long k = key(level, 0, l, b, layers);
                    hostRank.add(k);
                    if (level <= Level.NORMAL_CODE) {
                        promotable.add(k);
                    }
                }
            }
        }
    }

    private void startPromotions(Sequence s) {
        int n = promote.size;
        ensureOrder(n);
        for (int i = 0; i < n; i++) {
            int h = handleOf(s, promote.keys[i]);
            order[i] = ((long) pool.hostSlot(h) << 32) | i;
        }
        Arrays.sort(order, 0, n);
        int previous = -2;
        for (int i = 0; i < n; i++) {
            int h = handleOf(s, promote.keys[(int) order[i]]);
            int slot = device.allocateNear(previous + 1);
            if (slot == SlotArena.NO_SLOT) {
                return;
            }
            pool.startPromote(h, slot);
            engine.stage(CopyDirection.HOST_TO_DEVICE, pool.hostSlot(h), slot);
            counters.promotionsStarted++;
            previous = slot;
        }
    }

    /**
     * Stages the chosen demotions. With host room for all of them they go in device-slot order (long runs);
     * with too little room, most popular first, so that the least popular are the ones dropped.
     */
    private void startDemotions(Sequence s) {
        int n = demote.size;
        ensureOrder(n);
        int room = Math.max(0, Math.min(s.hostBudgetBlocks() - pool.count(s.id(), BlockPool.HOST_COMMITTED), host.free()));
        if (n <= room) {
            for (int i = 0; i < n; i++) {
                order[i] = ((long) pool.deviceSlot(handleOf(s, demote.keys[i])) << 32) | i;
            }
            Arrays.sort(order, 0, n);
        } else {
            rank(s, demote);
            for (int i = 0; i < n; i++) {
                order[i] = n - 1 - i;
            }
        }
        int previous = -2;
        int layers = s.layers();
        for (int i = 0; i < n; i++) {
            long k = demote.keys[(int) order[i]];
            int h = handleOf(s, k);
            if (pool.state(h) != BlockPool.DEVICE) {
                continue;
            }
            int slot = hostSlotFor(s, previous + 1, k);
            if (slot == SlotArena.NO_SLOT) {
                s.drop(layerOf(k, layers), blockOf(k, layers));
                continue;
            }
            pool.startDemote(h, slot);
            engine.stage(CopyDirection.DEVICE_TO_HOST, pool.deviceSlot(h), slot);
            counters.demotionsStarted++;
            previous = slot;
        }
    }

    /**
     * A host slot for a block of {@code s} being demoted, or NO_SLOT if the block itself should be dropped:
     * when the host budget or arena is full, the sequence's least popular settled host block is dropped
     * instead, if it is less popular than the victim.
     */
    private int hostSlotFor(Sequence s, int preferred, long victimKey) {
        long victim = -1;
        while (true) {
            if (pool.count(s.id(), BlockPool.HOST_COMMITTED) < s.hostBudgetBlocks()) {
                int slot = host.allocateNear(preferred);
                if (slot != SlotArena.NO_SLOT) {
                    return slot;
                }
            }
            if (!hostRanked) {
                rank(s, hostRank);
                hostRanked = true;
            }
            while (hostCursor < hostRank.size && !isSettledOnHost(s, hostRank.keys[hostCursor])) {
                hostCursor++;
            }
            if (hostCursor == hostRank.size) {
                return SlotArena.NO_SLOT;
            }
            if (victim < 0) {
                victim = withHeat(s, victimKey);
            }
            long candidate = hostRank.keys[hostCursor];
            if (candidate > victim) {
                return SlotArena.NO_SLOT;
            }
            hostCursor++;
            s.drop(layerOf(candidate, s.layers()), blockOf(candidate, s.layers()));
        }
    }

    private boolean isSettledOnHost(Sequence s, long k) {
        int h = s.handle(layerOf(k, s.layers()), blockOf(k, s.layers()));
        return h >= 0 && pool.state(h) == BlockPool.HOST;
    }

    /** Fills in heat and sorts ascending: least popular first. */
    private void rank(Sequence s, KeyList list) {
        for (int i = 0; i < list.size; i++) {
            list.keys[i] = withHeat(s, list.keys[i]);
        }
        Arrays.sort(list.keys, 0, list.size);
    }

    private long withHeat(Sequence s, long k) {
        int layers = s.layers();
        int l = layerOf(k, layers);
        int b = blockOf(k, layers);
        return key(levelOf(k), blockHeat(s, l, b), l, b, layers);
    }

    private static long blockHeat(Sequence s, int layer, int block) {
        KvPolicy policy = s.policy();
        int blockSize = s.table().blockSize();
        long heat = 0;
        for (int t = block * blockSize, end = Math.min(t + blockSize, s.length()); t < end; t++) {
            if (policy.level(layer, t) != Level.EVICT_CODE) {
                heat += Math.max(0, policy.heat(layer, t));
            }
        }
        return heat;
    }

    static long key(int level, long heat, int layer, int block, int layers) {
        long rank = Level.EVICT_CODE - level;
        return rank << 61 | Math.min(heat, HEAT_MAX) << 31 | ((long) block * layers + layer);
    }

    static int levelOf(long key) {
        return Level.EVICT_CODE - (int) (key >>> 61);
    }

    static int layerOf(long key, int layers) {
        return (int) ((key & INDEX_MASK) % layers);
    }

    static int blockOf(long key, int layers) {
        return (int) ((key & INDEX_MASK) / layers);
    }

    private static int handleOf(Sequence s, long key) {
        return s.handle(layerOf(key, s.layers()), blockOf(key, s.layers()));
    }

    private void ensureOrder(int n) {
        if (order.length < n) {
            order = new long[Math.max(n, order.length * 2)];
        }
    }

    /** A growable list of long keys. */
    private static final class KeyList {
        long[] keys = new long[64];
        int size;

        void add(long k) {
            if (size == keys.length) {
                keys = Arrays.copyOf(keys, size * 2);
            }
            keys[size++] = k;
        }
    }
}

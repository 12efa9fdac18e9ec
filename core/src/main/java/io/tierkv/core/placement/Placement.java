package io.tierkv.core.placement;

import io.tierkv.core.Level;
import java.util.Arrays;

/**
 * Where one sequence's KV blocks live: TierKV's one placement rule, pure (events in, {@link Moves} out),
 * shared by the tier manager, which carries the moves out with copies, and the simulator, which counts
 * them. It never touches memory.
 *
 * <p><b>Value.</b> Every block has a value: an exponentially decayed count of the top-k positions it held,
 * query by query (time constant {@code tau} steps), seeded by the prompt's own attention at prefill
 * ({@link #prior}), plus a bonus per popularity level of the paper's policy (CACHE above NORMAL above LOW
 * above EVICT): the levels are one signal among others. A count is kept scaled up by {@code e^(t / tau)} (from
 * an origin brought forward now and then), so a request is one multiply-add and decay costs nothing; a value is
 * the count's logarithm ({@code ln f + t / tau}), so a decay shifts every value alike and only a block whose
 * count changed is re-keyed: a step costs O(blocks requested + levels changed), not O(blocks).
 *
 * <p><b>Adaptive time constant.</b> No single {@code tau} suits every trace and budget: attention that re-reads
 * blocks within a few steps wants a short memory, a popular set that comes back every hundred steps a long one,
 * and a larger device a longer one. So the counts are kept at several candidate time constants
 * ({@link PlacementConfig#taus()}), each with a shadow: the device set this rule would hold with that candidate's
 * values (ids only, no moves), which counts the requests it would have missed. Every
 * {@link PlacementConfig#adaptWindow()} steps the live values switch to the candidate whose shadow missed least
 * (misses decayed window by window, ARC's idea of learning from what other choices would have done); a switch
 * re-keys the placed blocks (O(placed blocks), rare), every other step stays O(changes) times the candidates.
 *
 * <p><b>Neighbour candidates.</b> With {@link PlacementConfig#neighbourWeight()} &gt; 0 and more than one candidate
 * time constant (a fixed one has no twins), the shortest
 * {@link PlacementConfig#neighbourChoices()} candidate time constants have a twin that also credits a request's next
 * block of the same layer with that small weight: when attention comes back to a passage read long before, its next
 * blocks are then promoted before they are asked for (on the recorded traces attention returns to runs of
 * neighbouring blocks together). Where that does not pay (synthetic popular spans lie at random places) the twins'
 * shadows miss more and the choice stays with the plain candidates: to replace plain live values a twin needs
 * {@link PlacementConfig#neighbourHysteresis()} fewer misses on top of the usual hysteresis. The credit goes only to
 * the next block of a request near its block's end ({@link PlacementConfig#neighbourReach()} tokens), and a small share
 * of it from any other request ({@link PlacementConfig#neighbourFarShare()}): attention that reads on through a passage,
 * or sits at a fixed distance behind the newest token, is about to cross into the next block.
 *
 * <p><b>Bounded long memories.</b> Under the candidates of {@link PlacementConfig#countCapFromTau()} steps or more a
 * count never exceeds {@link PlacementConfig#countCap()}: what a long memory should remember is which blocks attention
 * keeps coming back to, not how hot a block once was, so a block that was very popular falls back among the others
 * within {@code tau * ln(countCap)} steps after attention leaves it. The short candidates keep how hot a block is now,
 * which is what decides how much of the attention the device serves.
 *
 * <p><b>Placement.</b> The device holds at most {@code capacity} blocks besides each layer's tail, which is
 * always on the device and not placed here. Its least valuable block is the victim. A block that leaves
 * the tail stays on the device if there is room or if it is worth more than the victim (which then goes
 * to the host), else it is copied to the host. A requested host block is read where it lies (a miss) and
 * is promoted only when it has come to be worth more than the victim by a margin: TinyLFU's admission
 * filter, so one-off recalls do not flush the blocks attention keeps returning to.
 *
 * <p><b>Evicted tokens.</b> In {@link TierMode#TIER} an EVICT block is only cold: it stays on the host and
 * is freed when the host holds more than its budget, EVICT blocks first, least valuable first. In
 * {@link TierMode#DROP} (the paper's compression) it is freed at once.
 *
 * <p>Block ids are {@code block * layers + layer}, so they grow with the sequence.
 */
public final class Placement {
    /** Not placed yet: the tail, or not appended. */
    public static final byte ABSENT = 0;
    public static final byte DEVICE = 1;
    public static final byte HOST = 2;
    /** Released: the host budget had no room, or its tokens were dropped. */
    public static final byte FREED = 3;

    /** How far (in time constants) a candidate's counts may be scaled up before they are brought back: e^300. */
    private static final double RESCALE = 300;

    /** Resolution of the shadows' sampling rate. */
    private static final int SAMPLE_SCALE = 1 << 16;

    /** Host-order offset that puts EVICT blocks before every other block. */
    private static final double EVICT_FIRST = 1e9;

    private final PlacementConfig config;
    private final TierMode mode;
    private final int layers;
    private final int capacity;
    /**
     * The shadows model a sample of the blocks (SHARDS-style spatial sampling): those whose hashed id falls below
     * {@code sampleThreshold} (of 65536), on a device of {@code shadowCapacity} blocks, the capacity at the same rate.
     */
    private final int sampleThreshold;
    private final int shadowCapacity;
    private final int hostCapacity;
    /** The candidate time constants, shortest first; one unless the placement adapts. */
    private final Ranking[] rankings;
    /** The ranking that values the blocks placed: {@code rankings[chosen]}. */
    private Ranking live;
    private int chosen;
    /** Times the live ranking changed ({@link #adapt}). */
    private int switches;
    /** The host heap's keys predate the last switch ({@link #rekeyHost}). */
    private boolean hostStale;
    /** (id) ABSENT, DEVICE, HOST or FREED. */
    private byte[] where;
    /** (id) the block's level code. */
    private byte[] level;
    /**
     * (id, candidate) the block's decayed request count under each candidate time constant, scaled by
     * {@code e^((now - origin) / tau)} of that candidate ({@link Ranking#scale}), 0 for never requested: a request
     * adds its weight times the scale, one multiply-add, and decay is implicit; a block's counts sit together, one
     * cache line for all.
     */
    private double[] counts;
    /** Device blocks, least valuable at the root. */
    private final IndexedMinHeap device;
    /** Host blocks in the order they are freed past the host budget. */
    private final IndexedMinHeap host;
    private int deviceCount;
    private int hostCount;
    private int now;
    /** The host budget frees nothing until {@link #releaseHostBudget} ({@link #holdHostBudget}). */
    private boolean hostBudgetHeld;

    /**
     * @param capacity     device blocks over all layers, tails excluded ({@code >= 0})
     * @param hostCapacity host blocks, {@link Integer#MAX_VALUE} for unbounded
     */
    public Placement(PlacementConfig config, TierMode mode, int layers, int capacity, int hostCapacity) {
        if (layers <= 0 || capacity < 0 || hostCapacity < 0) {
            throw new IllegalArgumentException("placement needs layers > 0 and capacities >= 0, got layers " + layers
                    + ", device " + capacity + ", host " + hostCapacity);
        }
        this.config = config;
        this.mode = mode;
        this.layers = layers;
        this.capacity = capacity;
        if (capacity <= config.shadowBlocks()) {
            this.sampleThreshold = SAMPLE_SCALE;
            this.shadowCapacity = capacity;
        } else {
            this.sampleThreshold = (int) Math.ceil((double) SAMPLE_SCALE * config.shadowBlocks() / capacity);
            this.shadowCapacity = (int) Math.max(1, Math.round((double) capacity * sampleThreshold / SAMPLE_SCALE));
        }
        this.hostCapacity = hostCapacity;
        int n = 16 * layers;
        this.where = new byte[n];
        this.level = new byte[n];
        Arrays.fill(level, Level.NORMAL_CODE);
        double[] taus = config.taus();
        boolean twins = config.neighbourWeight() > 0 && taus.length > 1;
        this.rankings = new Ranking[taus.length + (twins ? Math.min(config.neighbourChoices(), taus.length) : 0)];
        this.counts = new double[n * rankings.length];
        for (int i = 0; i < rankings.length; i++) {
            boolean twin = i >= taus.length;
            rankings[i] = new Ranking(taus[i % taus.length], twin ? config.neighbourWeight() : 0, i, n, rankings.length > 1);
        }
        this.chosen = config.startIndex();
        this.live = rankings[chosen];
        this.device = new IndexedMinHeap(n);
        this.host = new IndexedMinHeap(n);
    }

    public TierMode mode() {
        return mode;
    }

    public PlacementConfig config() {
        return config;
    }

    /** Device blocks this placement may fill (tails excluded). */
    public int capacity() {
        return capacity;
    }

    public int hostCapacity() {
        return hostCapacity;
    }

    public int deviceBlocks() {
        return deviceCount;
    }

    public int hostBlocks() {
        return hostCount;
    }

    /** The time constant that values the blocks now (the adaptive choice, or the one configured). */
    public double tau() {
        return live.tau;
    }

    /** Whether the live values count requests' shares for next blocks ({@link PlacementConfig#neighbourWeight}). */
    public boolean neighboursLive() {
        return live.neighbour > 0;
    }

    /** How often the adaptive choice changed the time constant. */
    public int switches() {
        return switches;
    }

    /** Steps taken ({@link #step()} calls). */
    public int now() {
        return now;
    }

    /** Where block {@code block} of {@code layer} is. */
    public byte where(int layer, int block) {
        int id = id(layer, block);
        return id < where.length ? where[id] : ABSENT;
    }

    /**
     * Seeds a block's value with the prompt's own attention (SnapKV's observation window): {@code weight}
     * top-k hits by prompt queries, counted like requests made now. Call before the block is admitted, or
     * at the end of the prefill for blocks already placed.
     */
    public void prior(int layer, int block, double weight, Moves out) {
        if (!(weight > 0)) {
            return;
        }
        int id = ensure(layer, block);
        boolean sampled = sampled(id);
        for (Ranking r : rankings) {
            r.add(id, weight * config.priorWeight());
            if (sampled) {
                shadowTouched(r, id);
            }
        }
        rekey(id);
        admitIfWorth(id, out);
    }

    /**
     * A block left the tail: it is full and written on the device. It stays there if there is room or it is
     * worth more than the victim; else it is copied to the host ({@link Moves#ADMIT_HOST}).
     */
    public void admit(int layer, int block, byte levelCode, Moves out) {
        int id = ensure(layer, block);
        if (where[id] != ABSENT) {
            throw new IllegalStateException("block " + block + " of layer " + layer + " is admitted twice");
        }
        level[id] = levelCode;
        for (Ranking r : rankings) {
            r.seed(id, config.newBlockWeight());
        }

        if (mode == TierMode.DROP && levelCode == Level.EVICT_CODE) {
            where[id] = FREED;
            out.add(layer, block, Moves.FREE);
            return;
        }
        if (sampled(id)) {
            for (Ranking r : rankings) {
                shadowOffer(r, id, 0);
            }
        }
        if (deviceCount < capacity) {
            toDevice(id);
            out.add(layer, block, Moves.ADMIT_DEVICE);
            return;
        }
        if (deviceCount > 0 && IndexedMinHeap.sortable(value(id)) > device.key(device.peek())) {
            demote(device.peek(), out);
            toDevice(id);
            out.add(layer, block, Moves.ADMIT_DEVICE);
            return;
        }
        toHost(id);
        out.add(layer, block, Moves.ADMIT_HOST);
        enforceHostBudget(out);
    }

    /**
     * One query's top-k {@code positions} of {@code layer} ({@code n} of them, ascending), in blocks of {@code blockSize}
     * tokens: each block they fall in is requested once, with how many of them it holds and how near its end the
     * newest lies ({@link #request(int, int, int, int, Moves)}). The runtime and the simulator both request this way.
     */
    public void requestPositions(int layer, int[] positions, int n, int blockSize, Moves out) {
        int first = 0;
        for (int i = 0; i < n; i++) {
            int b = positions[i] / blockSize;
            if (i + 1 == n || positions[i + 1] / blockSize != b) {
                request(layer, b, blockSize - 1 - positions[i] % blockSize, i + 1 - first, out);
                first = i + 1;
            }
        }
    }

    /** {@link #request(int, int, int, Moves)} with one position at the block's last token. */
    public void request(int layer, int block, Moves out) {
        request(layer, block, 0, out);
    }

    /**
     * Block {@code block} of {@code layer} was in a query's top-k this step (the tail too: a block's history
     * starts before it is placed). A host block may be promoted. {@code toEnd}: tokens between the newest requested
     * position in the block and the block's end (0 for its last token); the neighbour twins credit the next block
     * in full when it is under {@link PlacementConfig#neighbourReach()}, else by {@link PlacementConfig#neighbourFarShare()}.
     */
    public void request(int layer, int block, int toEnd, Moves out) {
        request(layer, block, toEnd, 1, out);
    }

    /**
     * The same for a block holding {@code positions} (at least 1) of the query's top-k positions: it counts that many
     * requests, so a block where attention concentrates outranks one it only touched.
     */
    public void request(int layer, int block, int toEnd, int positions, Moves out) {
        if (positions < 1) {
            throw new IllegalArgumentException("a request holds at least one position, got " + positions);
        }
        double weight = positions;
        int id = ensure(layer, block);
        if (where[id] == FREED) {
            return;
        }
        boolean placed = where[id] != ABSENT;
        boolean sampled = sampled(id);
        for (Ranking r : rankings) {
            if (placed && sampled && r.device != null && !r.device.contains(id)) {
                r.misses++;
            }
            r.add(id, weight);
            if (sampled) {
                shadowTouched(r, id);
            }
        }
        rekey(id);
        admitIfWorth(id, out);
        if (rankings.length > config.tauChoices()) {
            double share = toEnd < config.neighbourReach() ? 1 : config.neighbourFarShare();
            if (share > 0) {
                neighbour(layer, block + 1, share, out);
            }
        }
    }

    /**
     * A request's share for the next block of the same layer, counted by the neighbour candidates only; when one of
     * them is live the block may be promoted (attention that comes back to a passage reads on through it).
     */
    private void neighbour(int layer, int block, double share, Moves out) {
        int id = id(layer, block);
        if (block < 0 || id >= where.length || (where[id] != DEVICE && where[id] != HOST)) {
            return;
        }
        boolean sampled = sampled(id);
        for (Ranking r : rankings) {
            if (r.neighbour > 0) {
                r.add(id, r.neighbour * share);
                if (sampled) {
                    shadowTouched(r, id);
                }
            }
        }
        if (live.neighbour > 0) {
            rekey(id);
            admitIfWorth(id, out);
        }
    }


    /** The block's level changed (a window closed). In drop mode an EVICT block is freed. */
    public void level(int layer, int block, byte levelCode, Moves out) {
        int id = ensure(layer, block);
        level[id] = levelCode;
        if (where[id] == ABSENT || where[id] == FREED) {
            return;
        }
        if (mode == TierMode.DROP && levelCode == Level.EVICT_CODE) {
            free(id, out);
            return;
        }
        if (sampled(id)) {
            for (Ranking r : rankings) {
                shadowTouched(r, id);
            }
        }
        rekey(id);
    }

    /**
     * One step passed: every value decays by {@code 1 / tau} (implicitly). Every {@code adaptWindow} steps an
     * adaptive placement compares its candidate time constants and switches to the one whose shadow missed least.
     */
    public void step() {
        now++;
        for (Ranking r : rankings) {
            r.advance(now);
        }
        if (rankings.length > 1 && now % config.adaptWindow() == 0) {
            adapt();
        }
    }

    /**
     * ARC-style adaptation: each candidate's shadow counted the misses the rule would have had with its values; their
     * counts decay by half a window at a time, and the live ranking moves to the candidate with the fewest when it
     * beats the live one by the hysteresis. A switch re-keys the placed blocks' heaps (O(placed blocks), rare).
     */
    private void adapt() {
        int best = chosen;
        for (int i = 0; i < rankings.length; i++) {
            Ranking r = rankings[i];
            r.recent = r.recent * config.adaptKeep() + r.misses;
            r.misses = 0;
        }
        for (int i = 0; i < rankings.length; i++) {
            if (rankings[i].recent < rankings[best].recent) {
                best = i;
            }
        }
        // A neighbour twin must beat plain live values by more: its prefetches cost copies, and a tie is noise.
        double gap = config.adaptHysteresis() + (rankings[best].neighbour > 0 && live.neighbour == 0 ? config.neighbourHysteresis() : 0);
        if (best != chosen && rankings[best].recent < rankings[chosen].recent * (1 - gap)) {
            chosen = best;
            live = rankings[best];
            switches++;
            for (int i = 0; i < device.size(); i++) {
                int id = device.at(i);
                device.setKeyUnordered(id, IndexedMinHeap.sortable(value(id)));
            }
            device.heapify();
            hostStale = true;
        }
    }

    /**
     * Moves up to {@code count} of the least valuable device blocks to the host whatever their value, to make
     * room for another sequence; returns how many moved.
     */
    public int shed(int count, Moves out) {
        int moved = 0;
        while (moved < count && deviceCount > 0) {
            demote(device.peek(), out);
            moved++;
        }
        return moved;
    }

    /**
     * The memory could not follow a move: a promotion found no free device slot in the shared arena, so the
     * block stays on the host (which may free the host's least valuable block, into {@code out}).
     */
    public void stayOnHost(int layer, int block, Moves out) {
        int id = id(layer, block);
        if (where[id] != DEVICE) {
            throw new IllegalStateException("block " + block + " of layer " + layer + " is not placed on the device");
        }
        device.remove(id);
        deviceCount--;
        toHost(id);
        // Its host place may have gone to the victim demoted for it: the host budget decides again.
        enforceHostBudget(out);
    }

    /** The memory could not follow a move: the shared host arena was full, so the block was freed. */
    public void lost(int layer, int block) {
        int id = id(layer, block);
        if (where[id] == DEVICE) {
            device.remove(id);
            deviceCount--;
        } else if (where[id] == HOST) {
            host.remove(id);
            hostCount--;
        }
        where[id] = FREED;
        shadowsForget(id);
    }

    /** Promotes {@code id} from the host when there is room or it is worth more than the victim by the margin. */
    private void admitIfWorth(int id, Moves out) {
        if (where[id] != HOST) {
            return;
        }
        if (deviceCount < capacity) {
            promote(id, out);
            return;
        }
        if (deviceCount == 0) {
            return;
        }
        int victim = device.peek();
        if (IndexedMinHeap.sortable(value(id) - config.margin()) > device.key(victim)) {
            demote(victim, out);
            promote(id, out);
        }
    }

    private void promote(int id, Moves out) {
        host.remove(id);
        hostCount--;
        toDevice(id);
        out.add(layerOf(id), blockOf(id), Moves.PROMOTE);
    }

    private void demote(int id, Moves out) {
        device.remove(id);
        deviceCount--;
        toHost(id);
        out.add(layerOf(id), blockOf(id), Moves.DEMOTE);
        enforceHostBudget(out);
    }

    private void free(int id, Moves out) {
        if (where[id] == DEVICE) {
            device.remove(id);
            deviceCount--;
        } else if (where[id] == HOST) {
            host.remove(id);
            hostCount--;
        }
        where[id] = FREED;
        shadowsForget(id);
        out.add(layerOf(id), blockOf(id), Moves.FREE);
    }

    /**
     * The host heap's keys still follow the ranking that was live before a switch (it is ordered by them, only
     * stale); they are brought up to date when the host budget is next enforced, which with an unbounded host is
     * never.
     */
    private void rekeyHost() {
        for (int i = 0; i < host.size(); i++) {
            int id = host.at(i);
            host.setKeyUnordered(id, hostKey(id));
        }
        host.heapify();
        hostStale = false;
    }

    /**
     * A shadow's view of a sampled block ({@link #sampled}) whose value changed: re-keyed if on its device, else offered to it
     * if placed.
     */
    private void shadowTouched(Ranking r, int id) {
        if (r.device == null) {
            return;
        }
        if (r.device.contains(id)) {
            r.device.update(id, IndexedMinHeap.sortable(r.value(id, level[id], config)));
        } else if (where[id] == DEVICE || where[id] == HOST) {
            shadowOffer(r, id, config.margin());
        }
    }

    /** The rule on a shadow's device set for a sampled block: room, or worth more than its victim by {@code margin}. */
    private void shadowOffer(Ranking r, int id, double margin) {
        IndexedMinHeap d = r.device;
        if (d == null) {
            return;
        }
        double value = r.value(id, level[id], config);
        if (d.size() < shadowCapacity) {
            d.add(id, IndexedMinHeap.sortable(value));
        } else if (d.size() > 0 && IndexedMinHeap.sortable(value - margin) > d.key(d.peek())) {
            d.replaceRoot(id, IndexedMinHeap.sortable(value));
        }
    }

    /** Whether the shadows model block {@code id}: a fixed pseudo-random subset at the sampling rate. */
    private boolean sampled(int id) {
        if (sampleThreshold == SAMPLE_SCALE) {
            return true;
        }
        int h = id * 0x9E3779B9;
        h ^= h >>> 16;
        return (h & (SAMPLE_SCALE - 1)) < sampleThreshold;
    }

    private void shadowsForget(int id) {
        for (Ranking r : rankings) {
            if (r.device != null && r.device.contains(id)) {
                r.device.remove(id);
            }
        }
    }

    /**
     * Until {@link #releaseHostBudget}, the host may hold more than its budget: nothing is freed for room. A dense prefill
     * holds it so (every prompt row attends every earlier token, as the paper's prefill computes them); its end then frees
     * what the budget has no room for, EVICT blocks first, least valuable first, as at any other time.
     */
    public void holdHostBudget() {
        hostBudgetHeld = true;
    }

    /** Ends {@link #holdHostBudget}: frees, into {@code out}, the host blocks past the budget. */
    public void releaseHostBudget(Moves out) {
        hostBudgetHeld = false;
        enforceHostBudget(out);
    }

    private void enforceHostBudget(Moves out) {
        if (hostBudgetHeld) {
            return;
        }
        if (hostCount > hostCapacity && hostStale) {
            rekeyHost();
        }
        while (hostCount > hostCapacity) {
            free(host.peek(), out);
        }
    }

    private void toDevice(int id) {
        where[id] = DEVICE;
        device.add(id, IndexedMinHeap.sortable(value(id)));
        deviceCount++;
    }

    private void toHost(int id) {
        where[id] = HOST;
        host.add(id, hostKey(id));
        hostCount++;
    }

    private void rekey(int id) {
        if (where[id] == DEVICE) {
            device.update(id, IndexedMinHeap.sortable(value(id)));
        } else if (where[id] == HOST) {
            if (hostCapacity == Integer.MAX_VALUE) {
                // An unbounded host never frees a block: its order is only needed if that changes, never.
                hostStale = true;
            } else {
                host.update(id, hostKey(id));
            }
        }
    }

    /** The block's value now, in the shifted log domain of the live ranking's counts. */
    private double value(int id) {
        return live.value(id, level[id], config);
    }

    private long hostKey(int id) {
        return IndexedMinHeap.sortable(value(id) - (level[id] == Level.EVICT_CODE ? EVICT_FIRST : 0));
    }

    /**
     * One candidate time constant: the blocks' decayed request counts under it and, when the placement adapts, its
     * shadow: the device set the rule would hold were these the live values (ids only, no moves), which counts the
     * requests it would have missed.
     */
    private final class Ranking {
        final double tau;
        final double invTau;
        /** Its counts stop at {@link PlacementConfig#countCap()}: a long memory, which should remember which blocks come back. */
        final boolean capped;
        /** What a request adds to the next block's count; 0 for a plain candidate. */
        final double neighbour;
        /** Where this candidate's counts sit in each block's run of {@link #counts}. */
        final int slot;
        /** The shadow's device blocks, least valuable at the root; null when the placement does not adapt. */
        final IndexedMinHeap device;
        /** Requests on placed blocks off the shadow's device since the last choice, and their decayed sum before. */
        long misses;
        double recent;
        /** The step counts are scaled from: a count added at step t is multiplied by {@code e^((t - origin) / tau)}. */
        int origin;
        /** {@code e^((now - origin) / tau)}. */
        double scale = 1;

        Ranking(double tau, double neighbour, int slot, int n, boolean shadow) {
            this.tau = tau;
            this.neighbour = neighbour;
            this.invTau = 1.0 / tau;
            this.capped = tau >= config.countCapFromTau();
            this.slot = slot;
            this.device = shadow ? new IndexedMinHeap(n) : null;
        }

        /** ln of the decayed request count plus (step / tau); -infinity for never requested. */
        double score(int id) {
            double c = counts[id * rankings.length + slot];
            return c > 0 ? Math.log(c) + origin * invTau : Double.NEGATIVE_INFINITY;
        }

        double value(int id, byte levelCode, PlacementConfig config) {
            return score(id) + config.levelWeight() * levelRank(levelCode);
        }

        /** Gives a block never requested the count {@code w}. */
        void seed(int id, double w) {
            int i = id * rankings.length + slot;
            if (counts[i] == 0) {
                counts[i] = w * scale;
            }
        }

        /** Adds {@code w} to the block's count, as of now. */
        void add(int id, double w) {
            int i = id * rankings.length + slot;
            counts[i] = capped ? Math.min(counts[i] + w * scale, config.countCap() * scale) : counts[i] + w * scale;
        }

        /**
         * Step {@code now} began: the scale for counts added now. Past {@link #RESCALE} (e^300, far from a double's
         * range) every count of this candidate is divided by the scale and the origin moves to now: O(blocks) once
         * every 300 tau steps, and a count that falls below e^-300 of the newest becomes 0, never requested.
         */
        void advance(int now) {
            double e = (now - origin) * invTau;
            if (e <= RESCALE) {
                scale = Math.exp(e);
                return;
            }
            double f = Math.exp(-e);
            for (int i = slot; i < counts.length; i += rankings.length) {
                counts[i] *= f;
            }
            origin = now;
            scale = 1;
        }
    }

    private static int levelRank(byte code) {
        return Level.NORMAL_CODE - code;
    }

    private int ensure(int layer, int block) {
        if (layer < 0 || layer >= layers || block < 0) {
            throw new IndexOutOfBoundsException("block " + block + " of layer " + layer + " (" + layers + " layers)");
        }
        int id = id(layer, block);
        if (id >= where.length) {
            int n = Math.max(id + 1, where.length * 2);
            int old = where.length;
            where = Arrays.copyOf(where, n);
            level = Arrays.copyOf(level, n);
            Arrays.fill(level, old, n, Level.NORMAL_CODE);
            int k = rankings.length;
            counts = Arrays.copyOf(counts, n * k);
            for (Ranking r : rankings) {
                if (r.device != null) {
                    r.device.ensureCapacity(n);
                }
            }
            device.ensureCapacity(n);
            host.ensureCapacity(n);
        }
        return id;
    }

    private int id(int layer, int block) {
        return block * layers + layer;
    }

    private int layerOf(int id) {
        return id % layers;
    }

    private int blockOf(int id) {
        return id / layers;
    }

    /** Re-checks counts against a recount and both heaps' order; throws {@link IllegalStateException}. */
    public void checkInvariants() {
        int d = 0;
        int h = 0;
        for (int id = 0; id < where.length; id++) {
            byte w = where[id];
            if ((w == DEVICE) != device.contains(id) || (w == HOST) != host.contains(id)) {
                throw new IllegalStateException("block " + blockOf(id) + " of layer " + layerOf(id) + " is " + w
                        + " but the heaps disagree");
            }
            d += w == DEVICE ? 1 : 0;
            h += w == HOST ? 1 : 0;
        }
        if (d != deviceCount || h != hostCount || d > capacity || h > hostCapacity) {
            throw new IllegalStateException("placement counts " + deviceCount + " device / " + hostCount + " host blocks, holds "
                    + d + " / " + h + " (capacities " + capacity + " / " + hostCapacity + ")");
        }
        device.checkInvariants();
        host.checkInvariants();
        for (Ranking r : rankings) {
            if (r.device == null) {
                continue;
            }
            r.device.checkInvariants();
            if (r.device.size() > shadowCapacity) {
                throw new IllegalStateException("the shadow of tau " + r.tau + " holds " + r.device.size() + " blocks, capacity "
                        + shadowCapacity);
            }
            for (int i = 0; i < r.device.size(); i++) {
                byte w = where[r.device.at(i)];
                if (w != DEVICE && w != HOST) {
                    throw new IllegalStateException("the shadow of tau " + r.tau + " holds block " + blockOf(r.device.at(i))
                            + " of layer " + layerOf(r.device.at(i)) + ", which is " + w);
                }
            }
        }
    }
}

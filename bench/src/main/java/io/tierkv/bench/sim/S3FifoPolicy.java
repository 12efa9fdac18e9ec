package io.tierkv.bench.sim;

import io.tierkv.core.policy.PolicyOptions;
import java.util.Arrays;

/**
 * S3-FIFO (Yang et al., "FIFO queues are all you need for cache eviction", SOSP 2023): a small FIFO
 * {@code S} (10% of the device) filters new blocks, a main FIFO {@code M} (90%) keeps the ones that
 * were reused, and a ghost FIFO {@code G} remembers recently filtered ids (no data). A block carries a
 * 2-bit frequency (0..3), bumped on each hit.
 *
 * <ul>
 *   <li>miss or new block: into {@code M} if its id is in {@code G}, else into {@code S}; frequency 0;</li>
 *   <li>evict: from {@code S} if {@code S} holds at least its share (or {@code M} is empty), else from
 *       {@code M};</li>
 *   <li>from {@code S}: the oldest block moves to {@code M} (frequency cleared) if it was hit more than
 *       {@code move} times (the paper's {@code freq > 1}), possibly making {@code M} evict; otherwise it
 *       goes to the host and its id to {@code G}; repeat until one block left the device;</li>
 *   <li>from {@code M}: the oldest block with frequency > 0 is reinserted with frequency - 1; the first
 *       one at 0 goes to the host.</li>
 * </ul>
 *
 * <p>The ghost is the blog's "timestamp" form: {@code G} holds the last {@code |M|} ids ghosted (an id is
 * in it while fewer than {@code |M|} were ghosted after it), so it costs one long per block id and no
 * queue.
 * Options: {@code small} (0.1), {@code move} (1), {@code maxfreq} (3). For KV blocks the point of the
 * comparison is the paper's: the hierarchical policy was inspired by S3-FIFO's small/main split.
 */
final class S3FifoPolicy extends AbstractSimPolicy {
    static final double DEFAULT_SMALL = 0.10;
    static final int DEFAULT_MOVE_THRESHOLD = 1;
    static final int DEFAULT_MAX_FREQUENCY = 3;

    private static final byte NOWHERE = 0;
    private static final byte SMALL = 1;
    private static final byte MAIN = 2;

    private final String name;
    private final double smallShare;
    private final int moveThreshold;
    private final int maxFrequency;
    private IntQueue small;
    private IntQueue main;
    /** (id) which queue holds the block. */
    private byte[] queue;
    /** (id) hits since insertion, capped. */
    private byte[] frequency;
    /** (id) ghost clock when the id was ghosted, or -1. */
    private long[] ghostedAt;
    private long ghostClock;
    private int maxSmall;
    private int maxMain;

    S3FifoPolicy(String name, double smallShare, int moveThreshold, int maxFrequency) {
        if (!(smallShare > 0 && smallShare < 1)) {
            throw new IllegalArgumentException("s3fifo: small must be in (0, 1), was " + smallShare);
        }
        if (maxFrequency < 1 || maxFrequency > 127 || moveThreshold < 0) {
            throw new IllegalArgumentException("s3fifo: maxfreq must be in [1, 127] and move >= 0, were " + maxFrequency + ", " + moveThreshold);
        }
        this.name = name;
        this.smallShare = smallShare;
        this.moveThreshold = moveThreshold;
        this.maxFrequency = maxFrequency;
    }

    static SimPolicy create(PolicyOptions options) {
        double s = options.getDouble("small", DEFAULT_SMALL);
        int move = options.getInt("move", DEFAULT_MOVE_THRESHOLD);
        int max = options.getInt("maxfreq", DEFAULT_MAX_FREQUENCY);
        options.finish();
        String spec = options.toString();
        return new S3FifoPolicy(spec.isEmpty() ? "s3fifo" : "s3fifo:" + spec, s, move, max);
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    protected void onStart() {
        int capacity = residency.capacity();
        int ids = context.blockIds();
        maxSmall = Math.max(1, (int) Math.round(capacity * smallShare));
        maxMain = Math.max(1, capacity - maxSmall);
        small = new IntQueue(capacity + 1);
        main = new IntQueue(capacity + 1);
        queue = new byte[ids];
        frequency = new byte[ids];
        ghostedAt = new long[ids];
        Arrays.fill(ghostedAt, -1);
    }

    @Override
    public void admit(int layer, int block) {
        insert(context.id(layer, block), false);
    }

    @Override
    public void onHit(int layer, int block, int request) {
        int id = context.id(layer, block);
        if (frequency[id] < maxFrequency) {
            frequency[id]++;
        }
    }

    @Override
    public void onMiss(int layer, int block, int request) {
        insert(context.id(layer, block), true);
    }

    private void insert(int id, boolean fetch) {
        while (!residency.hasRoom()) {
            evict();
        }
        if (inGhost(id)) {
            ghostedAt[id] = -1;
            main.offer(id);
            queue[id] = MAIN;
        } else {
            small.offer(id);
            queue[id] = SMALL;
        }
        frequency[id] = 0;
        if (fetch) {
            residency.fetch(id);
        } else {
            residency.admitToDevice(id);
        }
    }

    private boolean inGhost(int id) {
        long at = ghostedAt[id];
        return at >= 0 && ghostClock - at <= maxMain;
    }

    private void evict() {
        if (small.size() >= maxSmall || main.isEmpty()) {
            evictSmall();
        } else {
            evictMain();
        }
    }

    private void evictSmall() {
        while (!small.isEmpty()) {
            int id = small.poll();
            if (frequency[id] > moveThreshold) {
                frequency[id] = 0;
                main.offer(id);
                queue[id] = MAIN;
                if (main.size() > maxMain) {
                    evictMain();
                }
            } else {
                queue[id] = NOWHERE;
                ghostedAt[id] = ghostClock++;
                residency.demote(id);
                return;
            }
        }
    }

    private void evictMain() {
        while (!main.isEmpty()) {
            int id = main.poll();
            if (frequency[id] > 0) {
                frequency[id]--;
                main.offer(id);
            } else {
                queue[id] = NOWHERE;
                residency.demote(id);
                return;
            }
        }
    }

    /** Test hook: the queue holding a block (0 none, 1 small, 2 main). */
    int queueOf(int id) {
        return queue[id];
    }

    @Override
    public void finished() {
        int inSmall = 0;
        int inMain = 0;
        for (int i = 0; i < small.size(); i++) {
            if (queue[small.get(i)] != SMALL || residency.where(small.get(i)) != Residency.DEVICE) {
                throw new IllegalStateException(name + ": small queue holds block " + small.get(i) + " that is not a small device block");
            }
            inSmall++;
        }
        for (int i = 0; i < main.size(); i++) {
            if (queue[main.get(i)] != MAIN || residency.where(main.get(i)) != Residency.DEVICE) {
                throw new IllegalStateException(name + ": main queue holds block " + main.get(i) + " that is not a main device block");
            }
            inMain++;
        }
        if (inSmall + inMain != residency.deviceBlocks()) {
            throw new IllegalStateException(name + ": queues hold " + (inSmall + inMain) + " blocks, the device " + residency.deviceBlocks());
        }
    }
}

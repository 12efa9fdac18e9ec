package io.tierkv.bench.sim;

import io.tierkv.core.policy.PolicyOptions;
import io.tierkv.core.placement.IndexedMinHeap;

/**
 * Belady's offline optimum (MIN): when the device is full, of the resident blocks and the incoming one,
 * the one whose next request is furthest in the future leaves; if that is the incoming block it
 * <em>bypasses</em> the device (a missed block is then read where it is, on the host; a new block is
 * copied to the host). No online policy can have more device hits on the same request stream at the
 * same capacity, so every other policy's misses are reported as a ratio to these.
 *
 * <p>It reads the future from a {@link FutureIndex} built by a first pass over the trace (as Caffeine's
 * simulator buffers its trace), and checks on every request that the replay and the index agree.
 * Victims come from a heap keyed by the negated next use. Ties (blocks never used again) keep the
 * resident blocks. No options.
 */
final class ClairvoyantPolicy extends AbstractSimPolicy {
    private FutureIndex future;
    /** Device blocks by {@code -nextUse}: the root is used furthest in the future. */
    private IndexedMinHeap resident;

    static SimPolicy create(PolicyOptions options) {
        options.finish();
        return new ClairvoyantPolicy();
    }

    @Override
    public String name() {
        return "clairvoyant";
    }

    @Override
    public boolean needsFuture() {
        return true;
    }

    @Override
    protected void onStart() {
        future = context.future();
        resident = new IndexedMinHeap(context.blockIds());
    }

    @Override
    public void admit(int layer, int block) {
        int id = context.id(layer, block);
        place(id, future.first(id), false);
    }

    @Override
    public void onHit(int layer, int block, int request) {
        int id = check(layer, block, request);
        resident.update(id, -(long) future.next(request));
    }

    @Override
    public void onMiss(int layer, int block, int request) {
        int id = check(layer, block, request);
        place(id, future.next(request), true);
    }

    private void place(int id, int nextUse, boolean fetch) {
        if (!residency.hasRoom()) {
            int victim = resident.peek();
            long victimNext = -resident.key(victim);
            if (victimNext <= nextUse) {
                if (!fetch) {
                    residency.admitToHost(id);
                }
                return;
            }
            resident.remove(victim);
            residency.demote(victim);
        }
        if (fetch) {
            residency.fetch(id);
        } else {
            residency.admitToDevice(id);
        }
        resident.add(id, -(long) nextUse);
    }

    private int check(int layer, int block, int request) {
        int id = context.id(layer, block);
        if (future.id(request) != id) {
            throw new IllegalStateException("clairvoyant: request " + request + " is layer " + layer + " block " + block
                    + " but the future index says block id " + future.id(request));
        }
        return id;
    }

    @Override
    public void finished() {
        resident.checkInvariants();
        if (resident.size() != residency.deviceBlocks()) {
            throw new IllegalStateException("clairvoyant holds " + resident.size() + " blocks, the device " + residency.deviceBlocks());
        }
    }
}

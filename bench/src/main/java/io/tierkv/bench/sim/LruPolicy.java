package io.tierkv.bench.sim;

import io.tierkv.core.policy.PolicyOptions;

/**
 * Least recently used: a hit moves the block to the front; a miss fetches it to the front, demoting
 * the block at the back to the host when the device is full. New blocks enter at the front. The
 * classic baseline: it knows recency only, so a burst of one-time recalls pushes out popular blocks.
 * No options.
 */
final class LruPolicy extends AbstractSimPolicy {
    private IntLinkedList recency;

    static SimPolicy create(PolicyOptions options) {
        options.finish();
        return new LruPolicy();
    }

    @Override
    public String name() {
        return "lru";
    }

    @Override
    protected void onStart() {
        recency = new IntLinkedList(context.blockIds());
    }

    @Override
    public void admit(int layer, int block) {
        int id = context.id(layer, block);
        makeRoom();
        residency.admitToDevice(id);
        recency.addFirst(id);
    }

    @Override
    public void onHit(int layer, int block, int request) {
        recency.moveToFront(context.id(layer, block));
    }

    @Override
    public void onMiss(int layer, int block, int request) {
        int id = context.id(layer, block);
        makeRoom();
        residency.fetch(id);
        recency.addFirst(id);
    }

    private void makeRoom() {
        if (!residency.hasRoom()) {
            int victim = recency.last();
            recency.remove(victim);
            residency.demote(victim);
        }
    }

    @Override
    public void finished() {
        recency.checkInvariants();
        if (recency.size() != residency.deviceBlocks()) {
            throw new IllegalStateException("lru lists " + recency.size() + " blocks, the device holds " + residency.deviceBlocks());
        }
    }
}

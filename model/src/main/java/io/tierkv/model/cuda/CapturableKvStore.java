package io.tierkv.model.cuda;

/**
 * A {@link KvStore} whose decode step can be captured once and replayed ({@link StepDevice#capture}): its attention launches
 * read what changes from token to token on the device ({@link #attendCaptured}), so that they depend on the host only
 * through {@link #captureKey}. {@link PagedKvCache} is one; so is the tiered store, between the steps where its tables
 * change shape (a block opens or fills, blocks move, rows are evicted: a new key) and where it reads something back
 * mid-step (a prompt row, the host tier attended on the CPU, whole-block digest choices: no key).
 */
interface CapturableKvStore extends KvStore {
    /** {@link #attend} as a captured step launches it: the entries in use read on the device. */
    void attendCaptured(int l, long q, float scale, long out, long lse);

    /**
     * What this step's launches depend on beyond device memory, after {@link #append}: equal keys, equal launches (keys
     * compare by {@code equals}). Null when this step must run launch by launch.
     */
    Object captureKey();

    /** The slot of layer {@code l}'s block of {@code position} in its slab ({@link #slab}). */
    int slotIndex(int l, int position);

    /** The device address of slot 0 of layer {@code l}'s slab. */
    long slab(int l);

    /**
     * A captured step was launched again: the host-side bookkeeping its {@link #attendCaptured} calls did when it was
     * captured (counts a later read collects) is done once more. Nothing by default.
     */
    default void replayed() {
    }
}

package io.tierkv.model.cuda;

/**
 * A {@link KvStore} whose decode step can be captured once and replayed ({@link StepDevice#capture}): its attention launches
 * read what changes from token to token on the device ({@link #attendCaptured}), so that they depend on the host only
 * through {@link #captureKey}, and {@link #observe} does nothing. {@link PagedKvCache} is one; the tiered store, which
 * decides per step on the host, is not.
 */
interface CapturableKvStore extends KvStore {
    /** {@link #attend} as a captured step launches it: the entries in use read on the device. */
    void attendCaptured(int l, long q, float scale, long out, long lse);

    /** What a captured step's launches depend on beyond device memory: equal keys, equal launches. */
    long captureKey();

    /** The slot of {@code position}'s block in every layer's slab. */
    int slotIndex(int position);

    /** The device address of slot 0 of layer {@code l}'s slab. */
    long slab(int l);
}

package io.tierkv.model.cuda;

import io.tierkv.cuda.ops.PagedKvShape;

/**
 * Where {@link CudaDecoder} keeps K and V and how it attends them: {@link PagedKvCache} (every block on the device, one
 * block table) or {@link TieredKvStore} (tiering's device and host tiers, two parts merged by log-sum-exp).
 */
interface KvStore extends AutoCloseable {
    /** The slots' geometry. */
    PagedKvShape shape();

    /** Makes room for one more token in every layer and returns its position. */
    int append();

    /** Writes layer {@code l}'s K and V of {@code position} (fp32 {@code [kvHeads * headDim]} at {@code k}, {@code v} on the device). */
    void write(int l, int position, long k, long v);

    /**
     * The device address of the block slot that holds layer {@code l}'s K and V of {@code position} (row {@code position %
     * blockSize} of it), for a kernel that writes them itself; {@link #written} follows.
     */
    long slot(int l, int position);

    /** Layer {@code l}'s K and V of {@code position} were written into {@link #slot} (the write is queued). */
    void written(int l, int position);

    /** Attention of {@code q} over every live token of layer {@code l}: normalised out {@code [heads][headDim]} and lse {@code [heads]}. */
    void attend(int l, long q, float scale, long out, long lse);

    /**
     * After every layer of a step: hands the step's attention to the policy when it observes attention (the tiered
     * store's popularity top-k); nothing otherwise.
     */
    default void observe() {
    }

    /**
     * A prompt of {@code length} tokens comes next, token by token (the tiered store reads its last rows' attention, or with
     * {@code everyRow} every row).
     */
    default void beginPrefill(int length, boolean everyRow) {
    }

    /** The prompt is in (the tiers run the policy's end of prefill). */
    void endPrefill();

    /** One generated token went through (the tiers run the policy's step). */
    void step();

    /** Marks the token at {@code position} evicted in every layer (attention skips it). */
    void evict(int position);

    /** Forgets the sequence. */
    void reset();

    /** Tokens appended. */
    int tokens();

    /** Bytes of KV memory held (all tiers). */
    long bytes();

    /** Frees what the store holds beyond the device's allocations (the tiers); idempotent. */
    @Override
    default void close() {
    }
}

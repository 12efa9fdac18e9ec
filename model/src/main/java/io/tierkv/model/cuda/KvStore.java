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

    /**
     * Makes room for {@code n >= 1} more tokens (a prefill chunk's rows), all of them writable until the next append; returns
     * the first position. By default as many {@link #append()}s.
     */
    default int append(int n) {
        int first = append();
        for (int t = 1; t < n; t++) {
            append();
        }
        return first;
    }

    /** Writes layer {@code l}'s K and V of {@code position} (fp32 {@code [kvHeads * headDim]} at {@code k}, {@code v} on the device). */
    default void write(int l, int position, long k, long v) {
        writeRows(l, position, 1, k, v);
    }

    /**
     * {@link #write} of the {@code n} consecutive positions {@code first ..} ({@code k}, {@code v}: {@code [n][kvHeads *
     * headDim]}), a launch per block they fall in.
     */
    void writeRows(int l, int first, int n, long k, long v);

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
     * How many of the next prompt tokens, at most {@code max}, may go through the model as one chunk
     * ({@link CudaDecoder#prefill}): {@link #append}ed one after the other before any of them is written, then per layer
     * their rows written in order and attended together ({@link #attendRows}). 1, the default, when this store must see the
     * prompt token by token (it reads the rows' attention, or places blocks as they fill).
     */
    default int chunkRows(int max) {
        return 1;
    }

    /**
     * {@link #attend} of a chunk's {@code n} rows, the last {@code n} tokens appended ({@link #chunkRows}), at positions
     * {@code first ..}: q and out {@code [n][heads][headDim]}, lse {@code [n][heads]}. Each row attends the tokens up to its
     * own, as it would have token by token (the chunk's later rows, appended already, are left out).
     */
    void attendRows(int l, int first, int n, long q, float scale, long out, long lse);

    /**
     * After a step's kernels are queued (every layer and the head): hands the step's attention to the policy when it observes attention (the tiered
     * store's popularity top-k); nothing otherwise.
     */
    default void observe() {
    }

    /**
     * Nanoseconds the host spent waiting for the device in {@link #observe} since the last call (its synchronising read
     * back), then zero: {@link StepPhases} counts them as the step's device wait, not as the observation.
     */
    default long takeWaitNanos() {
        return 0;
    }

    /**
     * A prompt of {@code length} tokens comes next, token by token or in chunks ({@link #chunkRows}) (the tiered store reads its last rows' attention, or with
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

package io.tierkv.model.cuda;

import io.tierkv.cuda.ops.DigestShape;
import io.tierkv.cuda.ops.PagedKvShape;
import io.tierkv.cuda.ops.PagedPart;
import java.nio.ByteBuffer;

/**
 * What a decoder step runs on, by address: memory and the kernels of one decode step. {@link CudaStepDevice} is the GPU
 * (cuda-kernels' ops on one stream); {@link HostStepDevice} is the same contract in plain Java over heap memory
 * ({@code ReferenceOps}), so that {@link CudaDecoder}'s orchestration (layouts, block table, offsets, the order of the
 * operations) is tested against the CPU decoder on every build, without a GPU.
 *
 * <p>Every operation is ordered after the previous ones; {@link #download} waits for them. Activations are fp32; the
 * contracts are those of {@code CudaLinear}, {@code CudaDecoderOps}, {@code CudaPagedAttention} and {@code CudaDecoderStep}.
 * The device owns every allocation and frees them all in {@link #close()}.
 */
interface StepDevice extends AutoCloseable {
    /** Allocates {@code bytes} (256-byte aligned, contents undefined) and returns its address. */
    long alloc(long bytes);

    /** Copies {@code src} (position to limit) to {@code dst}; returns when {@code src} may be reused. */
    void upload(long dst, ByteBuffer src);

    /** Waits for the queued work, then fills {@code dst} (position to limit) from {@code src}. */
    void download(long src, ByteBuffer dst);

    /**
     * Waits for the queued work, then fills {@code dst} from its position with the first {@code rowBytes} bytes of {@code rows}
     * rows, {@code pitch} bytes apart from {@code src}, packed (one 2-D copy on a GPU): the used columns of rows sized for the
     * longest sequence.
     */
    default void downloadRows(long src, long pitch, int rowBytes, int rows, ByteBuffer dst) {
        if (rowBytes > pitch) {
            throw new IllegalArgumentException("rows of " + rowBytes + " bytes do not fit a pitch of " + pitch);
        }
        int at = dst.position();
        for (int r = 0; r < rows; r++) {
            download(src + r * pitch, dst.duplicate().position(at + r * rowBytes).limit(at + (r + 1) * rowBytes));
        }
    }

    /**
     * Memory this device did not allocate that its kernels read and write in place ({@code bytes} at {@code address}, which
     * must stay allocated): the tiers' arenas. A GPU addresses them already (device and mapped pinned memory); the host
     * mirror registers them.
     */
    default void external(long address, long bytes) {
    }

    /** Waits until the queued work is done (before memory it reads is freed by another owner: the tiers). */
    default void synchronize() {
    }

    /** Sets the i32 at {@code address}. */
    void setInt(long address, int value);

    /** Sets {@code bytes} bytes from {@code address} to {@code value}. */
    void fill(long address, long bytes, byte value);

    /**
     * Sets the first {@code rowBytes} bytes of {@code rows} rows, {@code pitch} bytes apart from {@code address}, to
     * {@code value} (one 2-D memset on a GPU): the used columns of rows sized for the longest sequence.
     */
    default void fillRows(long address, long pitch, long rowBytes, int rows, byte value) {
        if (rowBytes > pitch) {
            throw new IllegalArgumentException("rows of " + rowBytes + " bytes do not fit a pitch of " + pitch);
        }
        for (int r = 0; r < rows; r++) {
            fill(address + r * pitch, rowBytes, value);
        }
    }

    /** {@code out[d] = table[token][d]} as fp32. */
    void embed(long out, DeviceWeights.Matrix table, int token);

    /** {@link #embed} of the token id (i32) at device address {@code token}, read when the kernel runs. */
    default void embedAt(long out, DeviceWeights.Matrix table, long token) {
        embedRows(out, table, token, 1);
    }

    /** {@link #embed} of the {@code count} token ids (i32) at device address {@code ids} into {@code count} rows of {@code out}. */
    void embedRows(long out, DeviceWeights.Matrix table, long ids, int count);

    /** {@code out = x * rsqrt(mean(x^2) + eps) * w}, one row of {@code dim}; w fp32; out may be x. */
    default void rmsNorm(long out, long x, long w, int dim, float eps) {
        rmsNorm(out, x, w, 1, dim, eps);
    }

    /** {@link #rmsNorm} of {@code rows} consecutive rows of {@code dim}, each on its own. */
    void rmsNorm(long out, long x, long w, int rows, int dim, float eps);

    /** {@code y = W x (+ residual)}; residual 0, a bias or y itself. */
    void gemv(long y, DeviceWeights.Matrix w, long x, long residual);

    /**
     * {@code Y[rows][w.rows()] = X[rows][w.cols()] W^T (+ residual)}: {@link #gemv} of {@code rows} consecutive inputs with the
     * weights streamed once (a prefill chunk); residual 0 or {@code rows} rows of outputs to add (y itself allowed).
     */
    void gemm(long y, DeviceWeights.Matrix w, long x, long residual, int rows);

    /**
     * {@code y = W x' (+ residual)} with {@code x' = rmsNorm(x) * normW} ({@code dim = w.cols()}) in one launch: {@link #rmsNorm}
     * then {@link #gemv}, the same bits; y must not overlap x.
     */
    void normGemv(long y, DeviceWeights.Matrix w, long x, long normW, float eps, long residual);

    /**
     * The stacked q, k, v projection of x' ({@link #normGemv}, plus {@code bias} or 0) with {@link #rope} applied to q and k at
     * {@code position}, and, when {@code slot} is not 0, {@link #appendRows} of k and v into row {@code row} of the block slot at
     * {@code slot} (of {@code kv}'s geometry), in one launch: {@code qkv} receives q {@code [heads][headDim]}, then k and v
     * {@code [kvHeads][headDim]}.
     */
    void normGemvRope(long qkv, DeviceWeights.Matrix wqkv, long x, long normW, float eps, long bias, int heads, int kvHeads, int headDim,
                      int position, long cos, long sin, int tableRows, PagedKvShape kv, long slot, int row);

    /** The stacked q, k, v matrix of {@link #normGemvRope} has {@code (heads + 2 kvHeads) headDim} rows, or this says what it has. */
    static void checkStackedQkv(DeviceWeights.Matrix wqkv, int heads, int kvHeads, int headDim) {
        if (wqkv.rows() != (heads + 2 * kvHeads) * headDim) {
            throw new IllegalArgumentException("the stacked q, k, v matrix has " + wqkv.rows() + " rows, not (" + heads + " + 2 x " + kvHeads
                    + ") x " + headDim);
        }
    }

    /**
     * {@link #normGemvRope} with the step's values read when the kernel runs, as a {@link #capture captured} launch needs
     * them: i32 {@code {position, row, slot}} at {@code params}, the token's k and v going to row {@code row} of slot
     * {@code slab + slot * kv.slotBytes()}. The caller keeps them in range.
     */
    void normGemvRopeAt(long qkv, DeviceWeights.Matrix wqkv, long x, long normW, float eps, long bias, int heads, int kvHeads, int headDim,
                        long params, long cos, long sin, int tableRows, PagedKvShape kv, long slab);

    /**
     * {@code y = silu(Wg x') * (Wu x')} from the stacked {@code [gate; up]} matrix ({@code 2 F} rows; y has F), x' as in
     * {@link #normGemv}, in one launch: {@link #rmsNorm}, {@link #gemv} and {@link #siluMul}.
     */
    void normSwiGlu(long y, DeviceWeights.Matrix wGateUp, long x, long normW, float eps);

    /** Rotate-half RoPE in place on q {@code [heads][headDim]} and k {@code [kvHeads][headDim]} at {@code position}. */
    default void rope(long q, long k, int heads, int kvHeads, int headDim, int position, long cos, long sin, int tableRows) {
        rope(q, k, 1, heads, kvHeads, headDim, position, cos, sin, tableRows);
    }

    /** {@link #rope} of {@code tokens} rows at positions {@code start ..}: q {@code [tokens][heads][headDim]}, k {@code [tokens][kvHeads][headDim]}. */
    void rope(long q, long k, int tokens, int heads, int kvHeads, int headDim, int start, long cos, long sin, int tableRows);

    /**
     * Writes {@code rows} consecutive tokens' k and v ({@code [rows][kvHeads * headDim]} fp32) into rows {@code row ..} of slot
     * {@code slot}.
     */
    void appendRows(PagedKvShape shape, long slab, long capacity, int slot, int row, int rows, long k, long v);

    /**
     * Paged decode attention of q over list entries {@code 0 .. nBlocks - 1}: normalised out and lse. {@code headMask}, u8
     * {@code [nBlocks][kvHeads]} or 0 for none: entry b takes no part for KV head g (and its query heads) where it is 0.
     */
    default void attend(PagedKvShape shape, long q, long slab, long slabBytes, long slots, long validRows, long mask, long headMask,
                        int nBlocks, float scale, long out, long lse) {
        attendParts(shape, q, 1, -1, new PagedPart(slab, slabBytes, slots, validRows, 0, mask, headMask, nBlocks), PagedPart.NONE, scale,
                out, lse);
    }

    /**
     * {@link #attend} over two lists of blocks as one ({@code first}'s entries, then {@code second}'s, which may be
     * {@code PagedPart.NONE}), in one launch: the result of attending each and merging them ({@link #merge}). With
     * {@code firstPosition >= 0}, for {@code rows} query rows (a prefill chunk; q and out {@code [rows][heads][headDim]}, lse
     * {@code [rows][heads]}), row z attending the positions up to {@code firstPosition + z} only, through each part's block
     * indexes; with {@code firstPosition < 0}, one row and no edge beyond the valid rows.
     */
    void attendParts(PagedKvShape shape, long q, int rows, int firstPosition, PagedPart first, PagedPart second, float scale, long out,
                     long lse);

    /**
     * {@link #attend} over the first {@code min(maxBlocks, *liveBlocks)} list entries, that count (i32) read when the kernel
     * runs and the launch planned for {@code maxBlocks}: one captured launch serves a sequence growing up to that many.
     */
    void attendLive(PagedKvShape shape, long q, long slab, long slabBytes, long slots, long validRows, long mask, long headMask,
                    long liveBlocks, int maxBlocks, float scale, long out, long lse);

    /**
     * The exact merge of two normalised attention parts: {@code out = w1 o1 + w2 o2}, {@code w_i = exp(lse_i - L)},
     * {@code lseOut = L = log(exp(lse1) + exp(lse2))}; out and lseOut may be o1 and lse1.
     */
    void merge(long o1, long lse1, long o2, long lse2, long out, long lseOut, int heads, int headDim);

    /**
     * The attention probabilities of q over the entries of {@code first}, then {@code second} (or {@code PagedPart.NONE}), by
     * token position ({@code CudaPagedProbs}), in one launch: {@code probs[h * stride + blockIndex[i] * blockSize + r] =
     * exp(scale * q_h . k - lse_h)} for every live row; the rest is left as it is. {@code lse} is the final log-sum-exp over all
     * parts; each part's block indexes must be set; masks as in {@link #attend}.
     */
    void probs(PagedKvShape shape, long q, PagedPart first, PagedPart second, float scale, long lse, long probs, int stride);

    /**
     * The popularity top-k ({@code PopularityKernel}) of {@code batches} batches of {@code heads} rows of {@code stride}
     * floats ({@code heads * stride} apart), over keys {@code 0 .. keys - 1}: batch b's positions (unordered) at
     * {@code out + 4 * b * k}, their number at {@code outCount + 4 * b}.
     */
    void topK(long probs, int batches, int heads, int stride, int keys, int k, long out, long outCount);

    /**
     * Allocates the device's one array of {@code capacity} block digests of {@code shape} ({@code CudaBlockDigests}; the
     * same layout in {@code DigestMirror}) and returns its bytes (counted in {@link #allocatedBytes()}); once per device.
     */
    long digests(DigestShape shape, int capacity);

    /**
     * The digests of list entries {@code 0 .. nBlocks - 1} ({@code CudaBlockDigests.updateAsync}): entry b's keys are the K
     * half ({@code keyOffset} bytes into the slot) of slot {@code slots[b]} of the slab, its digest goes to index
     * {@code digestIndexes[b]}; entries out of range are skipped.
     */
    void digestUpdate(PagedKvShape kv, long slab, long slabBytes, long keyOffset, long slots, long digestIndexes, int nBlocks);

    /**
     * Each query head's score of list entries {@code 0 .. nBlocks - 1} for query q ({@code [heads][headDim]} fp32) from their
     * digests ({@code CudaBlockDigests.scoreAsync}): the bound of a bfloat16 box, the estimated best score of a sketch;
     * {@code out[b * heads + h]} fp32, {@code +inf} for an index out of range.
     */
    void digestScore(long q, int heads, float scale, long digestIndexes, int nBlocks, long out);

    /**
     * The second stage of {@code keys=C} ({@code CudaBlockDigests.exactAsync}): for list entries {@code 0 .. nBlocks - 1} of a
     * slab (slots, valid rows, row mask as {@link #attend}), {@code out[b * heads + h]} = the largest {@code scale q_h . k} over
     * the entry's live keys of h's KV head, {@code -inf} where {@code headMask} (u8 {@code [nBlocks][kvHeads]}) is 0 (those keys
     * are not read) or no key is live.
     */
    void digestExact(PagedKvShape kv, long q, float scale, long slab, long slabBytes, long keyOffset, long slots, long validRows, long mask,
                     long headMask, int nBlocks, long out);

    /**
     * The per-head choice of {@code select=head} ({@code HeadSlices.choose}; {@code CudaHeadSlices} on the GPU) from
     * {@code scores} ({@code [n][heads]} fp32) with at most {@code cap} slices (and at most the int at {@code capFrom}, when
     * not 0) and the gate {@code min}: writes the head mask {@code headMask} ({@code [n][kvHeads]} u8, whole) and the number
     * chosen at {@code taken} (i32); {@code value} is scratch of {@code n * kvHeads} floats.
     */
    void headSlices(long scores, int n, int heads, int kvHeads, int cap, long capFrom, double min, long value, long headMask, long taken);

    /**
     * Both stages of {@code keys=C}'s per-head choice: {@link #headSlices} over the digests' {@code scores} with at most
     * {@code keys} slices (its count at {@code taken}), {@link #digestExact} of the candidates it wrote into {@code headMask}
     * (to {@code exactScores}, {@code [n][heads]} fp32), and {@link #headSlices} over those with at most {@code slices} and
     * the first count (its count at {@code taken + 4}). The GPU makes all three in one launch where the choice fits one CTA
     * ({@code head_slices_exact}), with the same mask and counts, and leaves {@code value} and {@code exactScores} unwritten.
     */
    default void headSlicesExact(PagedKvShape kv, long q, float scale, long scores, int n, int keys, int slices, double min, long slab,
                                 long slabBytes, long keyOffset, long slots, long validRows, long mask, long value, long exactScores,
                                 long headMask, long taken) {
        headSlices(scores, n, kv.heads(), kv.kvHeads(), keys, 0, min, value, headMask, taken);
        digestExact(kv, q, scale, slab, slabBytes, keyOffset, slots, validRows, mask, headMask, n, exactScores);
        headSlices(exactScores, n, kv.heads(), kv.kvHeads(), slices, taken, min, value, headMask, taken + 4);
    }

    /** {@code out = a + b}, n floats. */
    void add(long out, long a, long b, int n);

    /** {@code out = silu(gate) * up}, n floats. */
    void siluMul(long out, long gate, long up, int n);

    /** {@code out} (i32) = the lowest index of the largest of n floats. */
    void argmax(long x, int n, long out);

    /**
     * Records the kernels {@code work} calls, without running them, as one graph that {@link StepGraph#launch} replays with the
     * arguments they were called with (a CUDA graph on the GPU): what changes between launches must be read from device
     * memory ({@link #embedAt}, {@link #normGemvRopeAt}, tables written before the launch). Inside {@code work} no memory call
     * ({@link #alloc}, {@link #upload}, {@link #download}, {@link #setInt}, {@link #fill}) is allowed.
     *
     * @throws IllegalStateException naming the call, for a memory call inside {@code work}
     * @throws RuntimeException      the device's error when the capture fails (on the GPU, {@code CudaException}); the device
     *                               stays usable
     */
    StepGraph capture(Runnable work);

    /** A captured sequence of kernels ({@link #capture}), owned by the device that captured it. */
    interface StepGraph extends AutoCloseable {
        /** Enqueues the captured kernels, ordered after the previous operations. */
        void launch();

        /**
         * Whether the device has since reallocated memory the graph holds (on the GPU, the paged attention's split scratch,
         * grown for a larger plan): a stale graph must not be launched.
         */
        boolean stale();

        /** Frees the graph; idempotent (the device's close frees the ones still open). */
        @Override
        void close();
    }

    /** Device bytes allocated. */
    long allocatedBytes();

    /** Frees every allocation and what the device holds; idempotent. */
    @Override
    void close();
}

package io.tierkv.cuda.attention;

/**
 * Attention probabilities of one query over the keys in a pool's blocks:
 * {@code probs[h * probsStride + t] = softmax_t(scale * q[h] . K(t, h / group))} for {@code t < tokens},
 * where key {@code t} is row {@code t % blockSize} of pool block {@code blocks[t / blockSize]} (see
 * {@link ScoreShape}). Implementations agree to a relative tolerance, not bit for bit: dot products
 * and sums round in different orders.
 *
 * @param <M> the memory the pool lives in: {@code ByteBuffer} on the CPU, {@code DeviceBuffer} on the GPU
 */
public interface AttentionScores<M> {

    /** A short name for logs and reports. */
    String name();

    /**
     * Writes the probabilities of query {@code q} ({@code [heads][headDim]} f32) into {@code probs}
     * ({@code heads} rows of {@code tokens}, {@code probsStride} apart).
     */
    void probabilities(float[] q, ScoreShape shape, M pool, int[] blocks, int tokens, float[] probs, int probsStride);
}

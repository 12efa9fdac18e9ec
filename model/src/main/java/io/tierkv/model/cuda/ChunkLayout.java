package io.tierkv.model.cuda;

import io.tierkv.model.llama.LlamaConfig;

/**
 * The activations of a prefill chunk of up to {@code rows} prompt tokens ({@link CudaDecoder#prefill}), laid out once in one
 * device buffer, each region a matrix of rows one after the other and starting on a 256-byte boundary.
 *
 * <pre>
 *   | ids i32 [R] | h [R][D] | xn [R][D] | q [R][H*hd] | k [R][kvH*hd] | v [R][kvH*hd] | attn [R][H*hd] | lse [R][H] |
 *   | gate [R][F] | up [R][F] |
 *   R = rows; fp32 except ids. As {@link StepLayout}: h the residual stream, xn a normed copy, attn the attention output.
 * </pre>
 *
 * @param rows  the most rows a chunk holds
 * @param ids   byte offset of the chunk's token ids
 * @param h     byte offset of the residual stream
 * @param xn    byte offset of the normed inputs of a projection
 * @param q     byte offset of the queries (RoPE applied in place)
 * @param k     byte offset of the keys
 * @param v     byte offset of the values
 * @param attn  byte offset of the attention outputs
 * @param lse   byte offset of the attention's log-sum-exp per row and head
 * @param gate  byte offset of the MLP gates (then silu(gate) * up)
 * @param up    byte offset of the MLP up projections
 * @param bytes the buffer's size
 */
record ChunkLayout(int rows, long ids, long h, long xn, long q, long k, long v, long attn, long lse, long gate, long up, long bytes) {
    static ChunkLayout of(LlamaConfig c, int rows) {
        if (rows < 2) {
            throw new IllegalArgumentException("a prefill chunk holds at least 2 rows, was " + rows);
        }
        long qDim = (long) c.heads() * c.headDim();
        long kvDim = (long) c.kvHeads() * c.headDim();
        long[] widths = {1, c.hiddenSize(), c.hiddenSize(), qDim, kvDim, kvDim, qDim, c.heads(), c.intermediateSize(), c.intermediateSize()};
        long[] at = new long[widths.length];
        long next = 0;
        for (int i = 0; i < widths.length; i++) {
            at[i] = next;
            next = StepLayout.align(at[i] + 4L * rows * widths[i]);
        }
        return new ChunkLayout(rows, at[0], at[1], at[2], at[3], at[4], at[5], at[6], at[7], at[8], at[9], next);
    }
}

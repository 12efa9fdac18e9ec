package io.tierkv.model.cuda;

import io.tierkv.model.llama.LlamaConfig;

/**
 * The activations of one decode step, laid out once in one device buffer; every region starts on a 256-byte boundary
 * (the GEMV's 16-byte vector loads need 16), except that k follows q and v follows k directly, and up follows gate, when
 * the sizes keep them on 16 bytes: one GEMV then writes q, k and v (or gate and up) at once ({@link #qkvContiguous},
 * {@link #gateUpContiguous}).
 *
 * <pre>
 *   | h [D] | xn [D] | q [H*hd] | k [kvH*hd] | v [kvH*hd] | attn [H*hd] | lse [H] | gate [F] | up [F] | logits [V] | token i32 |
 *   all fp32 except token; h is the residual stream, xn a normed copy, attn the attention output before wo.
 * </pre>
 *
 * @param h      byte offset of the residual stream
 * @param xn     byte offset of the normed input of a projection
 * @param q      byte offset of the query (RoPE applied in place)
 * @param k      byte offset of the step's key
 * @param v      byte offset of the step's value
 * @param attn   byte offset of the attention output
 * @param lse    byte offset of the attention's log-sum-exp per head
 * @param gate   byte offset of the MLP gate (then silu(gate) * up)
 * @param up     byte offset of the MLP up projection
 * @param logits byte offset of the logits
 * @param token  byte offset of the argmax (i32)
 * @param bytes  the buffer's size
 */
record StepLayout(long h, long xn, long q, long k, long v, long attn, long lse, long gate, long up, long logits, long token, long bytes) {
    static final int ALIGN = 256;

    static StepLayout of(LlamaConfig c) {
        long qDim = (long) c.heads() * c.headDim();
        long kvDim = (long) c.kvHeads() * c.headDim();
        long[] sizes = {c.hiddenSize(), c.hiddenSize(), qDim, kvDim, kvDim, qDim, c.heads(), c.intermediateSize(), c.intermediateSize(),
            c.vocabSize(), 1};
        // Regions that may follow their predecessor directly (q -> k -> v, gate -> up) when it ends on 16 bytes.
        boolean[] follows = new boolean[sizes.length];
        follows[3] = follows[4] = qDim % 4 == 0 && kvDim % 4 == 0;
        follows[8] = c.intermediateSize() % 4 == 0;
        long[] at = new long[sizes.length];
        long next = 0;
        for (int i = 0; i < sizes.length; i++) {
            at[i] = follows[i] ? at[i - 1] + sizes[i - 1] * Float.BYTES : next;
            next = align(at[i] + sizes[i] * Float.BYTES);
        }
        return new StepLayout(at[0], at[1], at[2], at[3], at[4], at[5], at[6], at[7], at[8], at[9], at[10], next);
    }

    /** Whether k directly follows q and v follows k: one GEMV of the stacked q, k, v matrices writes all three. */
    boolean qkvContiguous(LlamaConfig c) {
        return k == q + 4L * c.heads() * c.headDim() && v == k + 4L * c.kvHeads() * c.headDim();
    }

    /** Whether up directly follows gate: one GEMV of the stacked gate and up matrices writes both. */
    boolean gateUpContiguous(LlamaConfig c) {
        return up == gate + 4L * c.intermediateSize();
    }

    static long align(long bytes) {
        return (bytes + ALIGN - 1) / ALIGN * ALIGN;
    }
}

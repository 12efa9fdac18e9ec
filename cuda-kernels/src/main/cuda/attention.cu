// Attention probabilities of one query over KV blocks, on the device, without libtorch:
//   scores[h][t] = scale * q[h] . K(t, g(h))      (cuBLAS batched GEMM, or block_scores below)
//   probs[h][t]  = exp(scores[h][t] - max_h) / sum_t exp(scores[h][t] - max_h)   (softmax_rows)
// g(h) = h / (heads / kvHeads) (grouped-query attention). Key t is row t % blockSize of block
// blocks[t / blockSize]; a block holds K as [blockSize][kvHeads][headDim] f32 at its start
// (io.tierkv.core.KvLayout: (2, blockSize, kvHeads, headDim), keys first).
//
// Rows are [heads][stride] f32 with stride >= tokens rounded up to whole blocks, so a partly filled
// last block writes into padding, never into the next head's row; softmax reads only t < tokens.

#include "block_scan.cuh"

namespace {

using tierkv::kThreads;

__device__ __forceinline__ float blockMax(float v, float* warpScratch) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(tierkv::kFullMask, v, o));
    if ((threadIdx.x & 31) == 0) warpScratch[threadIdx.x >> 5] = v;
    __syncthreads();
    float m = warpScratch[0];
    for (int w = 1; w < tierkv::kWarps; ++w) m = fmaxf(m, warpScratch[w]);
    __syncthreads();
    return m;
}

__device__ __forceinline__ float blockSum(float v, float* warpScratch) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(tierkv::kFullMask, v, o);
    if ((threadIdx.x & 31) == 0) warpScratch[threadIdx.x >> 5] = v;
    __syncthreads();
    float s = 0.0f;
    for (int w = 0; w < tierkv::kWarps; ++w) s += warpScratch[w];
    __syncthreads();
    return s;
}

}  // namespace

// One CTA per row. scores, probs: [rows][stride] f32 (may alias); the first `cols` entries are used.
// mask: nullable [cols] bytes; an entry != 0 is an evicted key: probability 0, left out of the sum (a
// row with every key masked is all zeros). Bytes moved: 3 reads (two from L1/L2) and 1 write of 4 * cols per row.
extern "C" __global__ void __launch_bounds__(kThreads)
softmax_rows(const float* scores, float* probs, int cols, int stride, const unsigned char* __restrict__ mask) {
    __shared__ float warpScratch[tierkv::kWarps];
    const float* in = scores + (long long) blockIdx.x * stride;
    float* out = probs + (long long) blockIdx.x * stride;
    float m = -INFINITY;
    for (int t = threadIdx.x; t < cols; t += kThreads) {
        if (mask == nullptr || mask[t] == 0) m = fmaxf(m, in[t]);
    }
    m = blockMax(m, warpScratch);
    float s = 0.0f;
    for (int t = threadIdx.x; t < cols; t += kThreads) {
        if (mask == nullptr || mask[t] == 0) s += expf(in[t] - m);
    }
    s = blockSum(s, warpScratch);
    const bool empty = m == -INFINITY;
    const float inv = empty ? 0.0f : 1.0f / s;
    for (int t = threadIdx.x; t < cols; t += kThreads) {
        const bool live = !empty && (mask == nullptr || mask[t] == 0);
        out[t] = live ? expf(in[t] - m) * inv : 0.0f;
    }
}

// The scores without cuBLAS (for hosts whose cuBLAS is not the one JCublas links against).
// Grid = (blocksUsed, kvHeads); CTA (b, g) computes scores[h][b * blockSize + r] for the group's
// query heads h and the block's rows r: K rows and the group's queries are staged in shared memory.
// q: [heads][headDim] f32; pool: device bytes; blocks: [blocksUsed] i32; scores: [heads][stride] f32.
// Dynamic shared memory: (blockSize * (headDim + 1) + heads / kvHeads * headDim) * 4 bytes; key rows
// are padded by one float so that threads on consecutive rows read different banks.
extern "C" __global__ void __launch_bounds__(kThreads)
block_scores(const float* __restrict__ q, const unsigned char* __restrict__ pool, const int* __restrict__ blocks,
             long long blockBytes, int blockSize, int heads, int kvHeads, int headDim, float scale,
             float* __restrict__ scores, int stride) {
    TIERKV_DYNAMIC_SHARED(float, smem);
    const int group = heads / kvHeads;
    const int keyStride = headDim + 1;
    float* keys = smem;                             // [blockSize][headDim + 1]
    float* queries = smem + blockSize * keyStride;  // [group][headDim]
    const int b = blockIdx.x;
    const int g = blockIdx.y;
    const float* k = reinterpret_cast<const float*>(pool + (long long) __ldg(blocks + b) * blockBytes);
    for (int i = threadIdx.x; i < blockSize * headDim; i += kThreads) {
        const int r = i / headDim;
        const int d = i - r * headDim;
        keys[r * keyStride + d] = __ldg(k + ((long long) r * kvHeads + g) * headDim + d);
    }
    for (int i = threadIdx.x; i < group * headDim; i += kThreads) {
        queries[i] = __ldg(q + (long long) g * group * headDim + i);
    }
    __syncthreads();
    for (int i = threadIdx.x; i < group * blockSize; i += kThreads) {
        const int hg = i / blockSize;
        const int r = i - hg * blockSize;
        float acc = 0.0f;
        for (int d = 0; d < headDim; ++d) acc = fmaf(queries[hg * headDim + d], keys[r * keyStride + d], acc);
        scores[(long long) (g * group + hg) * stride + (long long) b * blockSize + r] = scale * acc;
    }
}

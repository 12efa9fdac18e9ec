// The attention probabilities of one decode query over a paged part, by token position, for the popularity kernel:
//   paged_probs   probs[h][token] = exp(scale * q_h . k_token - lse_h) for every live row of every list entry,
//                 where token = blocks[i] * blockSize + r and lse_h is the FINAL log-sum-exp (after merging the parts),
//                 so the parts' probabilities together sum to 1 per head. Masked rows, rows past validRows[i], slots
//                 outside the slab and, for head h, entries with headMask[i * kvHeads + h / (heads / kvHeads)] == 0
//                 (headMask u8 [nBlocks][kvHeads], may be null for none) are not written (the caller zeroes probs
//                 first, so they stay 0).
// Slab layout as paged_attention.cu (PagedKvShape): slot s at s * slotBytes, K half [blockSize][kvHeads][headDim]
// of the element type. A second part (slab2 ... nBlocks2, the same arrays over its own slab; nBlocks2 0 for none) continues
// the list: a tiered sequence's host blocks after its device blocks, in the same launch. Grid: x = ceil((nBlocks +
// nBlocks2) * blockSize / 128), y = heads; one thread per (row, head).
// Plain loads: the slab may be mapped pinned host memory.

#include "dtype.cuh"

namespace {
constexpr int kThreads = 128;

__device__ __forceinline__ float loadKey(const unsigned char* base, long long i, int dtype) {
    if (dtype == tierkv::kF32) return tierkv::loadPlain<tierkv::kF32>(base, i);
    if (dtype == tierkv::kF16) return tierkv::loadPlain<tierkv::kF16>(base, i);
    return tierkv::loadPlain<tierkv::kBF16>(base, i);
}
}  // namespace

extern "C" __global__ void __launch_bounds__(kThreads)
paged_probs(const float* __restrict__ q, const unsigned char* slab, long long slabBytes, long long slotBytes,
            const int* __restrict__ slots, const int* __restrict__ validRows, const unsigned char* __restrict__ mask,
            const unsigned char* __restrict__ headMask, const int* __restrict__ blocks, int nBlocks, int blockSize, int heads,
            int kvHeads, int headDim, int dtype, float scale, const float* __restrict__ lse, float* probs, int stride,
            const unsigned char* slab2, long long slabBytes2, const int* __restrict__ slots2, const int* __restrict__ validRows2,
            const unsigned char* __restrict__ mask2, const unsigned char* __restrict__ headMask2, const int* __restrict__ blocks2,
            int nBlocks2) {
    long long p = (long long) blockIdx.x * kThreads + threadIdx.x;
    const int h = blockIdx.y;
    const long long firstRows = (long long) nBlocks * blockSize;
    if (p >= firstRows + (long long) nBlocks2 * blockSize) return;
    if (p >= firstRows) {  // the second part's row p - firstRows
        p -= firstRows;
        slab = slab2;
        slabBytes = slabBytes2;
        slots = slots2;
        validRows = validRows2;
        mask = mask2;
        headMask = headMask2;
        blocks = blocks2;
    }
    const int i = (int) (p / blockSize);
    const int r = (int) (p % blockSize);
    const int slot = slots[i];
    if (slot < 0 || (long long) (slot + 1) * slotBytes > slabBytes) return;
    if (validRows != nullptr && r >= validRows[i]) return;
    if (mask != nullptr && mask[p] != 0) return;
    const int kvh = h / (heads / kvHeads);
    if (headMask != nullptr && headMask[(long long) i * kvHeads + kvh] == 0) return;
    const long long token = (long long) blocks[i] * blockSize + r;
    if (token < 0 || token >= stride) return;
    const unsigned char* row = slab + (long long) slot * slotBytes;
    const long long first = ((long long) r * kvHeads + kvh) * headDim;
    const float* qh = q + (long long) h * headDim;
    float dot = 0.0f;
    for (int d = 0; d < headDim; d++) {
        dot = fmaf(qh[d], loadKey(row, first + d, dtype), dot);
    }
    probs[(long long) h * stride + token] = expf(scale * dot - lse[h]);
}

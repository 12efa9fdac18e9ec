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
// nBlocks2) * blockSize / 128), y = kvHeads; one thread per (row, KV head), which reads the row's key once (16-byte loads
// when the key and the slots are 16-byte aligned, element by element otherwise) for all the KV head's query heads, up to
// kGroupChunk at a time: over mapped pinned memory a key crosses PCIe once, not once per query head. Each head's dot
// product adds d = 0 .. headDim - 1 in order with fmaf, as one thread per head did.
// Plain loads: the slab may be mapped pinned host memory.

#include "dtype.cuh"

namespace {
constexpr int kThreads = 128;
constexpr int kGroupChunk = 8;  // query heads a thread scores per read of its key (a larger group takes several reads)

__device__ __forceinline__ float loadKey(const unsigned char* base, long long i, int dtype) {
    if (dtype == tierkv::kF32) return tierkv::loadPlain<tierkv::kF32>(base, i);
    if (dtype == tierkv::kF16) return tierkv::loadPlain<tierkv::kF16>(base, i);
    return tierkv::loadPlain<tierkv::kBF16>(base, i);
}

// dot[g] += q[g][d] * key[d] for the n <= kGroupChunk heads whose queries start at qh (rows headDim apart), d ascending,
// the key read in 16-byte vectors (key 16-byte aligned, headDim * element bytes a multiple of 16).
template <int DT>
__device__ __forceinline__ void dotVectors(const unsigned char* key, const float* __restrict__ qh, int headDim, int n, float* dot) {
    constexpr int kPer = 16 / tierkv::ElemBytes<DT>::value;
    for (int d = 0; d < headDim; d += kPer) {
        float f[kPer];
        tierkv::unpack16<DT>(reinterpret_cast<const uint4*>(key)[d / kPer], f);
#pragma unroll
        for (int g = 0; g < kGroupChunk; ++g) {
            if (g < n) {
#pragma unroll
                for (int j = 0; j < kPer; ++j) dot[g] = fmaf(qh[(long long) g * headDim + d + j], f[j], dot[g]);
            }
        }
    }
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
    const int kvh = blockIdx.y;
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
    if (slot < 0 || ((long long) slot + 1) * slotBytes > slabBytes) return;  // 64-bit: slot + 1 wraps at INT_MAX
    if (validRows != nullptr && r >= validRows[i]) return;
    if (mask != nullptr && mask[p] != 0) return;
    if (headMask != nullptr && headMask[(long long) i * kvHeads + kvh] == 0) return;
    const long long token = (long long) blocks[i] * blockSize + r;
    if (token < 0 || token >= stride) return;
    const int elem = dtype == tierkv::kF32 ? 4 : 2;
    const unsigned char* key = slab + (long long) slot * slotBytes + ((long long) r * kvHeads + kvh) * headDim * elem;
    const bool vectors = ((reinterpret_cast<unsigned long long>(key) | (unsigned long long) (headDim * elem)) & 15ull) == 0;
    const int group = heads / kvHeads;
    for (int g0 = 0; g0 < group; g0 += kGroupChunk) {
        const int n = min(kGroupChunk, group - g0);
        const int h0 = kvh * group + g0;
        const float* qh = q + (long long) h0 * headDim;
        float dot[kGroupChunk];
#pragma unroll
        for (int g = 0; g < kGroupChunk; ++g) dot[g] = 0.0f;
        if (vectors && dtype == tierkv::kF32) {
            dotVectors<tierkv::kF32>(key, qh, headDim, n, dot);
        } else if (vectors && dtype == tierkv::kF16) {
            dotVectors<tierkv::kF16>(key, qh, headDim, n, dot);
        } else if (vectors) {
            dotVectors<tierkv::kBF16>(key, qh, headDim, n, dot);
        } else {
            for (int d = 0; d < headDim; d++) {
                const float k = loadKey(key, d, dtype);
#pragma unroll
                for (int g = 0; g < kGroupChunk; ++g) {
                    if (g < n) dot[g] = fmaf(qh[(long long) g * headDim + d], k, dot[g]);
                }
            }
        }
#pragma unroll
        for (int g = 0; g < kGroupChunk; ++g) {
            if (g < n) probs[(long long) (h0 + g) * stride + token] = expf(scale * dot[g] - lse[h0 + g]);
        }
    }
}

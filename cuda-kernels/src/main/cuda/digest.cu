// Quest-style block digests on the device: per full KV block, the elementwise minimum and maximum of its
// keys per KV head (optionally per sub-block, "part"), kept as bfloat16 rounded OUTWARD (a minimum down, a
// maximum up), and the bound of each query head's score over a block. The semantics are model's
// BlockDigests; io.tierkv.cuda.ops.DigestMirror is this file step for step in Java (the gpu test holds the
// kernels to it bit for bit on the digests).
//
// Digest array: u16 bfloat16 bits, digest index i at digests + i * 2 * parts * kvHeads * headDim, laid out
// (2, parts, kvHeads, headDim): the minima of every part, then the maxima.
//
// digest_update_<dtype>: grid (nBlocks, parts), kThreads threads. CTA (b, p) reads the keys of list entry b,
// slot slots[b] (K half at slab + slot * slotBytes + keyOffset, (blockSize, kvHeads, headDim) row-major,
// rows [p * blockSize / parts, (p + 1) * blockSize / parts) of part p); thread t walks the columns
// e = t, t + kThreads, ... < kvHeads * headDim and, for each, the rows in order, keeping
//   mn = v < mn ? v : mn,  mx = v > mx ? v : mx   (starting from row 0's value)
// and writes bf16Down(mn) and bf16Up(mx) at digest index digestIndexes[b]. Entries whose slot is outside
// [0, capacity) or whose digest index is outside [0, digestCapacity) are skipped: nothing is read or written.
// The slab is read with plain loads (it may be mapped pinned memory or written by another kernel).
//
// digest_bound: one thread per (list entry b, query head h), i = b * heads + h; 1-D grid of kThreads-thread
// CTAs. With g = h / (heads / kvHeads) and index = digestIndexes[b]:
//   s_p = sum over d in order of max(q[h][d] * min_p[g][d], q[h][d] * max_p[g][d])    (fp32, round to nearest,
//                                                                                       no fused multiply-add)
//   out[i] = scale * max over parts p of s_p
// and out[i] = +inf when index is outside [0, digestCapacity) (no digest: the block must be read, as in the
// host selector). Digest rows and q rows are read as 16-byte vectors: headDim must be a multiple of 8 and q
// 16-byte aligned (CudaBlockDigests checks both on the host).
//
// The rank sum_h exp(bound_h - best_h) and the top-N selection are left on the host (DigestMirror.rank):
// n is small and the bounds are (nBlocks, heads) floats.

#include "dtype.cuh"

namespace {

constexpr int kThreads = 256;

// The largest bfloat16 not above x (finite x): truncation rounds a positive x down, a negative one up (then one ulp
// further out).
__device__ __forceinline__ unsigned short bf16Down(float x) {
    const unsigned bits = __float_as_uint(x);
    const bool inexact = (bits & 0xffffu) != 0u;
    return (unsigned short) ((bits >> 16) + (inexact && x < 0.0f ? 1u : 0u));
}

// The smallest bfloat16 not below x (finite x).
__device__ __forceinline__ unsigned short bf16Up(float x) {
    const unsigned bits = __float_as_uint(x);
    const bool inexact = (bits & 0xffffu) != 0u;
    return (unsigned short) ((bits >> 16) + (inexact && x > 0.0f ? 1u : 0u));
}

template <int DT>
__device__ __forceinline__ void digestUpdate(const unsigned char* slab, long long slotBytes, long long keyOffset,
                                             const int* __restrict__ slots, const int* __restrict__ digestIndexes,
                                             unsigned short* __restrict__ digests, int capacity, int digestCapacity,
                                             int blockSize, int kvHeads, int headDim, int parts) {
    const int entry = blockIdx.x;
    const int part = blockIdx.y;
    const int slot = __ldg(slots + entry);
    const int index = __ldg(digestIndexes + entry);
    if (slot < 0 || slot >= capacity || index < 0 || index >= digestCapacity) return;
    const int row = kvHeads * headDim;
    const int rows = blockSize / parts;
    const unsigned char* keys = slab + (long long) slot * slotBytes + keyOffset;
    const long long first = (long long) part * rows * row;
    unsigned short* lo = digests + (long long) index * 2 * parts * row + (long long) part * row;
    unsigned short* hi = lo + (long long) parts * row;
    for (int e = threadIdx.x; e < row; e += blockDim.x) {
        float mn = tierkv::loadPlain<DT>(keys, first + e);
        float mx = mn;
        for (int r = 1; r < rows; ++r) {
            const float v = tierkv::loadPlain<DT>(keys, first + (long long) r * row + e);
            mn = v < mn ? v : mn;
            mx = v > mx ? v : mx;
        }
        lo[e] = bf16Down(mn);
        hi[e] = bf16Up(mx);
    }
}

}  // namespace

#define TIERKV_DIGEST_UPDATE(SUFFIX, DT)                                                                              \
    extern "C" __global__ void __launch_bounds__(kThreads) digest_update_##SUFFIX(                                    \
        const unsigned char* slab, long long slotBytes, long long keyOffset, const int* __restrict__ slots,          \
        const int* __restrict__ digestIndexes, unsigned short* __restrict__ digests, int capacity, int digestCapacity, \
        int nBlocks, int blockSize, int kvHeads, int headDim, int parts) {                                           \
        (void) nBlocks; /* the grid's x extent */                                                                     \
        digestUpdate<DT>(slab, slotBytes, keyOffset, slots, digestIndexes, digests, capacity, digestCapacity,        \
                         blockSize, kvHeads, headDim, parts);                                                         \
    }

TIERKV_DIGEST_UPDATE(f32, tierkv::kF32)
TIERKV_DIGEST_UPDATE(f16, tierkv::kF16)
TIERKV_DIGEST_UPDATE(bf16, tierkv::kBF16)

extern "C" __global__ void __launch_bounds__(kThreads) digest_bound(const float* __restrict__ q,
                                                                    const unsigned short* __restrict__ digests,
                                                                    const int* __restrict__ digestIndexes,
                                                                    float* __restrict__ out, int digestCapacity, int nBlocks,
                                                                    int heads, int kvHeads, int headDim, int parts,
                                                                    float scale) {
    const long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (long long) nBlocks * heads) return;
    const int b = (int) (i / heads);
    const int h = (int) (i - (long long) b * heads);
    const int index = __ldg(digestIndexes + b);
    if (index < 0 || index >= digestCapacity) {
        out[i] = INFINITY;
        return;
    }
    const int g = h / (heads / kvHeads);
    const int row = kvHeads * headDim;
    const unsigned short* base = digests + (long long) index * 2 * parts * row + (long long) g * headDim;
    const float4* qh = reinterpret_cast<const float4*>(q + (long long) h * headDim);
    const int chunks = headDim / 8;
    float best = -INFINITY;
    for (int p = 0; p < parts; ++p) {
        const uint4* lo = reinterpret_cast<const uint4*>(base + (long long) p * row);
        const uint4* hi = reinterpret_cast<const uint4*>(base + (long long) (parts + p) * row);
        float s = 0.0f;
        for (int c = 0; c < chunks; ++c) {
            float mn[8];
            float mx[8];
            tierkv::unpack16<tierkv::kBF16>(__ldg(lo + c), mn);
            tierkv::unpack16<tierkv::kBF16>(__ldg(hi + c), mx);
            const float4 q0 = __ldg(qh + 2 * c);
            const float4 q1 = __ldg(qh + 2 * c + 1);
            const float qd[8] = {q0.x, q0.y, q0.z, q0.w, q1.x, q1.y, q1.z, q1.w};
#pragma unroll
            for (int j = 0; j < 8; ++j) {
                const float a = __fmul_rn(qd[j], mn[j]);
                const float z = __fmul_rn(qd[j], mx[j]);
                s = __fadd_rn(s, a > z ? a : z);
            }
        }
        best = s > best ? s : best;
    }
    out[i] = __fmul_rn(best, scale);
}

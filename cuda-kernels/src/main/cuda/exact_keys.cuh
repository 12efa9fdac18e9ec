// The exact best score of one (block, KV head) of a sparse host read, from the block's keys where they lie: the second
// stage of keys=C, shared by digest_exact_<dtype> (digest.cu: a CTA per block, a warp per KV head) and
// head_slices_exact_<dtype> (head_slices.cu: a warp per candidate of the first stage's choice), so that both compute
// the same floats in the same order.
//   out[g] = max over live rows r of scale * q[kh * group + g] . K[r][kh]      (g < group)
// Lanes over the rows (r = lane, lane + 32, ...), query heads in passes of kExactHeads; each lane's dot for a row adds the
// dims in order with fused multiply-adds, 8 at a time from 16-byte plain loads (the keys may be mapped pinned memory:
// keys, row bytes and headDim * element bytes multiples of 16); then a warp max. Row r is live when r < rows and
// rowMask[r] == 0 (rowMask null: none evicted). With `on` false no key is read and every out[g] is -inf, as when no row
// is live. Every lane of the warp must call it; lane 0 writes out.
#pragma once

#include "dtype.cuh"

namespace tierkv {

constexpr int kExactHeads = 8;  // query heads of one KV head per pass over a block's keys

__device__ __forceinline__ float exactWarpMax(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// 8 consecutive elements of the KV dtype at p (16-byte aligned) as floats: plain loads (mapped memory allowed).
template <int DT>
__device__ __forceinline__ void load8(const unsigned char* p, float* f) {
    const uint4* u = reinterpret_cast<const uint4*>(p);
    if constexpr (DT == kF32) {
        unpack16<DT>(u[0], f);
        unpack16<DT>(u[1], f + 4);
    } else {
        unpack16<DT>(u[0], f);
    }
}

// keys: the block's K half, rows rowBytes apart; q: [heads][headDim] fp32 (device memory); out: the group's
// scores, out[g] for query head kh * group + g.
template <int DT>
__device__ __forceinline__ void exactPair(const float* __restrict__ q, const unsigned char* keys, long long rowBytes,
                                          const unsigned char* __restrict__ rowMask, int rows, int kh, int group, int headDim,
                                          float scale, bool on, int lane, float* out) {
    constexpr int kElem = ElemBytes<DT>::value;
    for (int h0 = 0; h0 < group; h0 += kExactHeads) {
        float best[kExactHeads];
#pragma unroll
        for (int g = 0; g < kExactHeads; ++g) best[g] = -INFINITY;
        if (on) {
            for (int r = lane; r < rows; r += 32) {
                if (rowMask != nullptr && __ldg(rowMask + r) != 0) continue;
                const unsigned char* k = keys + (long long) r * rowBytes + (long long) kh * headDim * kElem;
                float acc[kExactHeads];
#pragma unroll
                for (int g = 0; g < kExactHeads; ++g) acc[g] = 0.0f;
                for (int c = 0; c < headDim; c += 8) {
                    float kv[8];
                    load8<DT>(k + (long long) c * kElem, kv);
#pragma unroll
                    for (int g = 0; g < kExactHeads; ++g) {
                        if (h0 + g < group) {
                            const float* qh = q + (long long) (kh * group + h0 + g) * headDim + c;
#pragma unroll
                            for (int j = 0; j < 8; ++j) acc[g] = fmaf(__ldg(qh + j), kv[j], acc[g]);
                        }
                    }
                }
#pragma unroll
                for (int g = 0; g < kExactHeads; ++g) {
                    const float s = scale * acc[g];
                    best[g] = s > best[g] ? s : best[g];
                }
            }
        }
#pragma unroll
        for (int g = 0; g < kExactHeads; ++g) {
            if (h0 + g < group) {  // uniform over the warp
                const float v = exactWarpMax(best[g]);
                if (lane == 0) out[h0 + g] = v;
            }
        }
    }
}

}  // namespace tierkv

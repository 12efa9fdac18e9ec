// Linear layers of a decoder: y = W x (decode, GEMV) and Y = X W^T (prefill chunks, tiled GEMM).
// W is row-major [out][in] in its checkpoint dtype (F32, F16, BF16); x, X, y, Y are fp32; accumulation is fp32.
// Optional residual: y = W x + r (r may alias y: each element is read, then written, by the same thread).
//
// GEMV: a CTA of 256 threads (8 warps) owns rowsPerBlock = 8 / warpsPerRow rows; the warpsPerRow warps of
// a row split its 16-byte chunks (interleaved, so every warp load is 512 contiguous bytes) and meet in
// shared memory. Weights are read once with streaming loads (ld.global.cs: they do not fit in L2 anyway),
// x through the read-only cache. The 16-byte path needs in * elemBytes % 16 == 0 and 16-byte aligned W
// and x; otherwise the same kernel walks elements one by one (correct for any size, slower).
// Bytes moved: out * in * elemBytes (weights) + in * 4 (x, from L2 after the first CTAs) + out * 4.
//
// Fused decode GEMVs fold the RMSNorm of x in (every CTA computes inv = rsqrt(mean(x^2) + eps) with rmsnorm's own
// code, norm.cuh, then reads x'_i = (x_i * inv) * nw_i on the fly: x' equals rmsnorm's output bit for bit) and end in
// an epilogue, so that a Llama layer is four GEMV launches instead of four GEMVs, two norms, a RoPE and a SiLU:
//   norm_gemv         y[r] = W x' (+ residual[r])                                    (the LM head)
//   norm_gemv_rope    [q; k; v] = Wqkv x' (+ bias), RoPE at `position` applied to q and k: rows i and i + headDim/2
//                     of a head are neighbouring row slots of one CTA, so the pair is rotated where it is summed;
//                     with a KV slot, k and v are also written into its row `kvRow` in the slab's dtype (kv_append);
//                     with stepParams (i32 {position, kvRow, slot index}) those three are read on the device, the
//                     slot being kvSlot + index * slotBytes: a launch captured in a CUDA graph replays for every token
//   norm_gemv_swiglu  y[j] = silu(g_j) * u_j, g_j row j and u_j row out + j of the stacked [gate; up] matrix,
//                     again neighbouring row slots
// The paired epilogues need an even number of row slots per CTA: warpsPerRow 1, 2 or 4.

#include <cstdint>
#include "dtype.cuh"
#include "norm.cuh"
#include "rope.cuh"

namespace {

constexpr int kGemvThreads = 256;
constexpr int kGemvWarps = kGemvThreads / 32;
static_assert(kGemvThreads == tierkv::kNormThreads, "the fused GEMVs reduce the norm over the GEMV's CTA");

// Four floats of the GEMV's input from x + e: x itself or, when NORM, x' = (x * inv) * nw (16-byte aligned).
template <bool NORM>
__device__ __forceinline__ float4 input4(const float* __restrict__ x, const float* __restrict__ nw, float inv, long long e) {
    float4 v = __ldg(reinterpret_cast<const float4*>(x + e));
    if constexpr (NORM) {
        const float4 n = __ldg(reinterpret_cast<const float4*>(nw + e));
        v.x = (v.x * inv) * n.x;
        v.y = (v.y * inv) * n.y;
        v.z = (v.z * inv) * n.z;
        v.w = (v.w * inv) * n.w;
    }
    return v;
}

template <int DT, bool NORM>
__device__ __forceinline__ float dot16(const uint4& wv, const float* __restrict__ x, const float* __restrict__ nw, float inv,
                                       long long e) {
    float w[16 / tierkv::ElemBytes<DT>::value];
    tierkv::unpack16<DT>(wv, w);
    float acc = 0.0f;
    if constexpr (DT == tierkv::kF32) {
        const float4 xv = input4<NORM>(x, nw, inv, e);
        acc = fmaf(w[0], xv.x, acc);
        acc = fmaf(w[1], xv.y, acc);
        acc = fmaf(w[2], xv.z, acc);
        acc = fmaf(w[3], xv.w, acc);
    } else {
        const float4 a = input4<NORM>(x, nw, inv, e);
        const float4 b = input4<NORM>(x, nw, inv, e + 4);
        acc = fmaf(w[0], a.x, acc);
        acc = fmaf(w[1], a.y, acc);
        acc = fmaf(w[2], a.z, acc);
        acc = fmaf(w[3], a.w, acc);
        acc = fmaf(w[4], b.x, acc);
        acc = fmaf(w[5], b.y, acc);
        acc = fmaf(w[6], b.z, acc);
        acc = fmaf(w[7], b.w, acc);
    }
    return acc;
}

// One lane's share of row `row` of W . x' (x' as input4), before the warp's reduction; `part` is the lane's warp
// among the row's warpsPerRow.
template <int DT, bool NORM>
__device__ __forceinline__ float rowPartial(const unsigned char* __restrict__ w, const float* __restrict__ x,
                                            const float* __restrict__ nw, float inv, long long row, int in, int part, int lane,
                                            int warpsPerRow) {
    constexpr int eb = tierkv::ElemBytes<DT>::value;
    constexpr int perVec = 16 / eb;
    const unsigned char* wr = w + row * (long long) in * eb;
    const bool vector = ((long long) in * eb) % 16 == 0
            && ((reinterpret_cast<uintptr_t>(w) | reinterpret_cast<uintptr_t>(x) | (NORM ? reinterpret_cast<uintptr_t>(nw) : 0)) & 15u) == 0;
    float acc = 0.0f;
    if (vector) {
        const uint4* wv = reinterpret_cast<const uint4*>(wr);
        const int vecs = (int) (((long long) in * eb) / 16);
        const int step = 32 * warpsPerRow;
        int v = part * 32 + lane;
        // Four independent 16-byte loads in flight per lane before any arithmetic.
        for (; v + 3 * step < vecs; v += 4 * step) {
            const uint4 a = __ldcs(wv + v);
            const uint4 b = __ldcs(wv + v + step);
            const uint4 c = __ldcs(wv + v + 2 * step);
            const uint4 d = __ldcs(wv + v + 3 * step);
            acc += dot16<DT, NORM>(a, x, nw, inv, (long long) v * perVec);
            acc += dot16<DT, NORM>(b, x, nw, inv, (long long) (v + step) * perVec);
            acc += dot16<DT, NORM>(c, x, nw, inv, (long long) (v + 2 * step) * perVec);
            acc += dot16<DT, NORM>(d, x, nw, inv, (long long) (v + 3 * step) * perVec);
        }
        for (; v < vecs; v += step) acc += dot16<DT, NORM>(__ldcs(wv + v), x, nw, inv, (long long) v * perVec);
    } else {
        for (int i = part * 32 + lane; i < in; i += 32 * warpsPerRow) {
            float xi = __ldg(x + i);
            if constexpr (NORM) xi = (xi * inv) * __ldg(nw + i);
            acc = fmaf(tierkv::loadAs<DT>(wr, i), xi, acc);
        }
    }
    return acc;
}

template <int DT>
__device__ __forceinline__ void gemv(const unsigned char* __restrict__ w, const float* __restrict__ x, float* y,
                                     const float* residual, int out, int in, int warpsPerRow) {
    __shared__ float partial[kGemvWarps];
    const int warp = threadIdx.x >> 5;
    const int lane = threadIdx.x & 31;
    const int rowsPerBlock = kGemvWarps / warpsPerRow;
    const int part = warp % warpsPerRow;
    const long long row = (long long) blockIdx.x * rowsPerBlock + warp / warpsPerRow;
    float acc = row < out ? rowPartial<DT, false>(w, x, nullptr, 1.0f, row, in, part, lane, warpsPerRow) : 0.0f;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, o);
    if (warpsPerRow == 1) {
        if (lane == 0 && row < out) y[row] = acc + (residual != nullptr ? residual[row] : 0.0f);
        return;
    }
    if (lane == 0) partial[warp] = acc;
    __syncthreads();
    if (part == 0 && lane == 0 && row < out) {
        float s = 0.0f;
        for (int p = 0; p < warpsPerRow; ++p) s += partial[warp + p];
        y[row] = s + (residual != nullptr ? residual[row] : 0.0f);
    }
}

constexpr int kPlain = 0;
constexpr int kRope = 1;
constexpr int kSwiGlu = 2;

// The fused GEMVs (see the top of the file). Row slot `slot` of CTA b is virtual row v = b * rowsPerBlock + slot:
//   kPlain   matrix row v (v < out)
//   kRope    v < qkRows: pair p = v / 2 of the q and k heads, member v % 2: row head * headDim + i + (v % 2) * half,
//            head = p / half, i = p % half; v >= qkRows: row v (the v heads); out rows in all
//   kSwiGlu  row j = v / 2 (gate) for even v, out + j (up) for odd v; j < out
// A slot's sum goes to shared memory; after one barrier the first thread of each row (or pair) writes the output.
// kRope with kvSlot non-null: the K half of the token's block slot (V half halfBytes after it); k and v go to row kvRow
// of it (element kvRow * kvRows + e, kvRows = out - qkRows) in kvDtype, as kv_append writes them.
template <int DT, int EPI>
__device__ __forceinline__ void normGemv(const unsigned char* __restrict__ w, const float* __restrict__ x,
                                         const float* __restrict__ nw, float eps, float* y, const float* residual, int out, int in,
                                         int warpsPerRow, int qkRows, int headDim, int position, const float* __restrict__ cosTable,
                                         const float* __restrict__ sinTable, unsigned char* kvSlot = nullptr,
                                         long long halfBytes = 0, int kvRow = 0, int kvDtype = 0) {
    __shared__ float scratch[tierkv::kNormWarps];
    __shared__ float partial[kGemvWarps];
    __shared__ float value[kGemvWarps];
    const float inv = tierkv::rmsInverse(x, in, eps, scratch);
    const int warp = threadIdx.x >> 5;
    const int lane = threadIdx.x & 31;
    const int rowsPerBlock = kGemvWarps / warpsPerRow;
    const int part = warp % warpsPerRow;
    const int slot = warp / warpsPerRow;
    const long long v = (long long) blockIdx.x * rowsPerBlock + slot;
    const int half = headDim >> 1;
    long long row = v;
    bool live = v < out;
    if constexpr (EPI == kSwiGlu) {
        live = (v >> 1) < out;
        row = (v & 1) ? out + (v >> 1) : (v >> 1);
    } else if constexpr (EPI == kRope) {
        if (v < qkRows) {
            const long long p = v >> 1;
            const long long head = p / half;
            row = head * headDim + (p - head * half) + (v & 1) * half;
        }
    }
    float acc = live ? rowPartial<DT, true>(w, x, nw, inv, row, in, part, lane, warpsPerRow) : 0.0f;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, o);
    if (lane == 0) partial[warp] = acc;
    __syncthreads();
    const bool first = part == 0 && lane == 0 && live;
    if (first) {
        float s = 0.0f;
        for (int p = 0; p < warpsPerRow; ++p) s += partial[warp + p];
        value[slot] = s + (residual != nullptr ? residual[row] : 0.0f);
    }
    __syncthreads();
    if (!first) return;
    if constexpr (EPI == kPlain) {
        y[row] = value[slot];
    } else if constexpr (EPI == kSwiGlu) {
        if ((slot & 1) == 0) {
            const float g = value[slot];
            y[row] = g / (1.0f + expf(-g)) * value[slot + 1];
        }
    } else {
        const long long kvRows = out - qkRows;
        const long long first = (long long) kvRow * kvRows;  // the token's first element in a half of the slot
        if (v >= qkRows) {
            y[row] = value[slot];
            if (kvSlot != nullptr) tierkv::storeAs(kvSlot + halfBytes, first + (row - qkRows), value[slot], kvDtype);
        } else if ((slot & 1) == 0) {
            const long long tab = (long long) position * half + (row % headDim);
            const float c = __ldg(cosTable + tab);
            const float s = __ldg(sinTable + tab);
            const float x1 = value[slot];
            const float x2 = value[slot + 1];
            float r1, r2;
            tierkv::rotatePair(x1, x2, c, s, r1, r2);
            y[row] = r1;
            y[row + half] = r2;
            const long long qRows = qkRows - kvRows;
            if (kvSlot != nullptr && row >= qRows) {
                tierkv::storeAs(kvSlot, first + (row - qRows), r1, kvDtype);
                tierkv::storeAs(kvSlot, first + (row + half - qRows), r2, kvDtype);
            }
        }
    }
}

// Tiled GEMM, 64 x 64 outputs per CTA of 256 threads, 16-deep k slices through shared memory; thread
// (ty, tx) owns rows ty + 16 i and columns tx + 16 j (i, j < 4), so shared reads are conflict-free and the
// stores along a row of Y are coalesced. Loads are bounds-checked element by element: any n, out, in.
constexpr int kTileM = 64;
constexpr int kTileN = 64;
constexpr int kTileK = 16;

template <int DT>
__device__ __forceinline__ void gemm(const float* __restrict__ xs, const unsigned char* __restrict__ w, float* ys,
                                     const float* residual, int n, int out, int in) {
    __shared__ float as[kTileK][kTileM + 4];
    __shared__ float bs[kTileK][kTileN + 4];
    const int tx = threadIdx.x & 15;
    const int ty = threadIdx.x >> 4;
    const long long m0 = (long long) blockIdx.y * kTileM;  // rows of X and Y
    const long long n0 = (long long) blockIdx.x * kTileN;  // rows of W, columns of Y
    float acc[4][4];
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] = 0.0f;

    for (int k0 = 0; k0 < in; k0 += kTileK) {
#pragma unroll
        for (int e = 0; e < 4; ++e) {
            const int idx = threadIdx.x + 256 * e;  // 0 .. 1023
            const int r = idx / kTileK;
            const int kk = idx % kTileK;
            const long long gm = m0 + r;
            const long long gn = n0 + r;
            const int gk = k0 + kk;
            as[kk][r] = (gm < n && gk < in) ? __ldg(xs + gm * in + gk) : 0.0f;
            bs[kk][r] = (gn < out && gk < in) ? tierkv::loadAs<DT>(w, gn * in + gk) : 0.0f;
        }
        __syncthreads();
#pragma unroll
        for (int kk = 0; kk < kTileK; ++kk) {
            float a[4], b[4];
#pragma unroll
            for (int i = 0; i < 4; ++i) a[i] = as[kk][ty + 16 * i];
#pragma unroll
            for (int j = 0; j < 4; ++j) b[j] = bs[kk][tx + 16 * j];
#pragma unroll
            for (int i = 0; i < 4; ++i)
#pragma unroll
                for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
        }
        __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const long long gm = m0 + ty + 16 * i;
        if (gm >= n) continue;
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            const long long gn = n0 + tx + 16 * j;
            if (gn < out) {
                const long long o = gm * out + gn;
                ys[o] = acc[i][j] + (residual != nullptr ? residual[o] : 0.0f);
            }
        }
    }
}

}  // namespace

// y[out] = W[out][in] . x[in] (+ residual[out]); grid = ceil(out / (8 / warpsPerRow)), block = 256,
// warpsPerRow in {1, 2, 4, 8}.
extern "C" __global__ void __launch_bounds__(kGemvThreads)
gemv_f32(const unsigned char* __restrict__ w, const float* __restrict__ x, float* y, const float* residual, int out, int in,
         int warpsPerRow) {
    gemv<tierkv::kF32>(w, x, y, residual, out, in, warpsPerRow);
}

extern "C" __global__ void __launch_bounds__(kGemvThreads)
gemv_f16(const unsigned char* __restrict__ w, const float* __restrict__ x, float* y, const float* residual, int out, int in,
         int warpsPerRow) {
    gemv<tierkv::kF16>(w, x, y, residual, out, in, warpsPerRow);
}

extern "C" __global__ void __launch_bounds__(kGemvThreads)
gemv_bf16(const unsigned char* __restrict__ w, const float* __restrict__ x, float* y, const float* residual, int out, int in,
          int warpsPerRow) {
    gemv<tierkv::kBF16>(w, x, y, residual, out, in, warpsPerRow);
}

// Y[n][out] = X[n][in] . W[out][in]^T (+ residual[n][out]); grid = (ceil(out / 64), ceil(n / 64)), block = 256.
extern "C" __global__ void __launch_bounds__(256)
gemm_f32(const float* __restrict__ x, const unsigned char* __restrict__ w, float* y, const float* residual, int n, int out, int in) {
    gemm<tierkv::kF32>(x, w, y, residual, n, out, in);
}

extern "C" __global__ void __launch_bounds__(256)
gemm_f16(const float* __restrict__ x, const unsigned char* __restrict__ w, float* y, const float* residual, int n, int out, int in) {
    gemm<tierkv::kF16>(x, w, y, residual, n, out, in);
}

extern "C" __global__ void __launch_bounds__(256)
gemm_bf16(const float* __restrict__ x, const unsigned char* __restrict__ w, float* y, const float* residual, int n, int out, int in) {
    gemm<tierkv::kBF16>(x, w, y, residual, n, out, in);
}

// y[out] = W[out][in] . x' (+ residual[out]), x' = rmsnorm(x) * nw (nw: [in] f32); grid = ceil(out / (8 / warpsPerRow)).
#define TIERKV_NORM_GEMV(SUFFIX, DT)                                                                                      \
    extern "C" __global__ void __launch_bounds__(kGemvThreads)                                                          \
    norm_gemv_##SUFFIX(const unsigned char* __restrict__ w, const float* __restrict__ x, const float* __restrict__ nw,   \
                       float eps, float* y, const float* residual, int out, int in, int warpsPerRow) {                  \
        normGemv<DT, kPlain>(w, x, nw, eps, y, residual, out, in, warpsPerRow, 0, 2, 0, nullptr, nullptr);               \
    }                                                                                                                    \
    /* [q; k; v][out] = Wqkv . x' (+ bias), RoPE on rows < qkRows at position; k and v also into row kvRow of the */     \
    /* slot kvSlot (K half; V halfBytes after) in kvDtype, unless kvSlot is null; with stepParams non-null, position, */ \
    /* kvRow and the slot (kvSlot + stepParams[2] * slotBytes, kvSlot the slab) come from there; warpsPerRow 1, 2, 4; */ \
    /* grid = ceil(out / (8 / warpsPerRow)). */                                                                          \
    extern "C" __global__ void __launch_bounds__(kGemvThreads)                                                          \
    norm_gemv_rope_##SUFFIX(const unsigned char* __restrict__ w, const float* __restrict__ x,                           \
                            const float* __restrict__ nw, float eps, float* y, const float* bias, int out, int in,         \
                            int warpsPerRow, int qkRows, int headDim, int position, const float* __restrict__ cosTable,   \
                            const float* __restrict__ sinTable, unsigned char* kvSlot, long long halfBytes, int kvRow,    \
                            int kvDtype, const int* __restrict__ stepParams, long long slotBytes) {                      \
        if (stepParams != nullptr) {                                                                                     \
            position = __ldg(stepParams);                                                                                \
            kvRow = __ldg(stepParams + 1);                                                                               \
            if (kvSlot != nullptr) {                                                                                     \
                kvSlot += (long long) __ldg(stepParams + 2) * slotBytes;                                                 \
            }                                                                                                            \
        }                                                                                                                \
        normGemv<DT, kRope>(w, x, nw, eps, y, bias, out, in, warpsPerRow, qkRows, headDim, position, cosTable, sinTable,  \
                            kvSlot, halfBytes, kvRow, kvDtype);                                                          \
    }                                                                                                                    \
    /* y[out] = silu(Wg x') * (Wu x'), W = [Wg; Wu] of 2 * out rows; warpsPerRow 1, 2 or 4; */                           \
    /* grid = ceil(2 * out / (8 / warpsPerRow)). */                                                                      \
    extern "C" __global__ void __launch_bounds__(kGemvThreads)                                                          \
    norm_gemv_swiglu_##SUFFIX(const unsigned char* __restrict__ w, const float* __restrict__ x,                         \
                              const float* __restrict__ nw, float eps, float* y, int out, int in, int warpsPerRow) {     \
        normGemv<DT, kSwiGlu>(w, x, nw, eps, y, nullptr, out, in, warpsPerRow, 0, 2, 0, nullptr, nullptr);               \
    }

TIERKV_NORM_GEMV(f32, tierkv::kF32)
TIERKV_NORM_GEMV(f16, tierkv::kF16)
TIERKV_NORM_GEMV(bf16, tierkv::kBF16)

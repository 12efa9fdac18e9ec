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

#include <cstdint>
#include "dtype.cuh"

namespace {

constexpr int kGemvThreads = 256;
constexpr int kGemvWarps = kGemvThreads / 32;

template <int DT>
__device__ __forceinline__ float dot16(const uint4& wv, const float* __restrict__ x, long long e) {
    float w[16 / tierkv::ElemBytes<DT>::value];
    tierkv::unpack16<DT>(wv, w);
    float acc = 0.0f;
    if constexpr (DT == tierkv::kF32) {
        const float4 xv = __ldg(reinterpret_cast<const float4*>(x + e));
        acc = fmaf(w[0], xv.x, acc);
        acc = fmaf(w[1], xv.y, acc);
        acc = fmaf(w[2], xv.z, acc);
        acc = fmaf(w[3], xv.w, acc);
    } else {
        const float4 a = __ldg(reinterpret_cast<const float4*>(x + e));
        const float4 b = __ldg(reinterpret_cast<const float4*>(x + e + 4));
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

template <int DT>
__device__ __forceinline__ void gemv(const unsigned char* __restrict__ w, const float* __restrict__ x, float* y,
                                     const float* residual, int out, int in, int warpsPerRow) {
    __shared__ float partial[kGemvWarps];
    constexpr int eb = tierkv::ElemBytes<DT>::value;
    constexpr int perVec = 16 / eb;
    const int warp = threadIdx.x >> 5;
    const int lane = threadIdx.x & 31;
    const int rowsPerBlock = kGemvWarps / warpsPerRow;
    const int part = warp % warpsPerRow;
    const long long row = (long long) blockIdx.x * rowsPerBlock + warp / warpsPerRow;
    float acc = 0.0f;
    if (row < out) {
        const unsigned char* wr = w + row * (long long) in * eb;
        const bool vector = ((long long) in * eb) % 16 == 0
                && ((reinterpret_cast<uintptr_t>(w) | reinterpret_cast<uintptr_t>(x)) & 15u) == 0;
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
                acc += dot16<DT>(a, x, (long long) v * perVec);
                acc += dot16<DT>(b, x, (long long) (v + step) * perVec);
                acc += dot16<DT>(c, x, (long long) (v + 2 * step) * perVec);
                acc += dot16<DT>(d, x, (long long) (v + 3 * step) * perVec);
            }
            for (; v < vecs; v += step) acc += dot16<DT>(__ldcs(wv + v), x, (long long) v * perVec);
        } else {
            for (int i = part * 32 + lane; i < in; i += 32 * warpsPerRow) {
                acc = fmaf(tierkv::loadAs<DT>(wr, i), __ldg(x + i), acc);
            }
        }
    }
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

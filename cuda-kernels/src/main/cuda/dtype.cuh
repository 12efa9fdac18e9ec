// Element types shared by the math kernels (header only). The codes match io.tierkv.cuda.ops.DTypeCodes:
// 0 = F32, 1 = F16, 2 = BF16. 16-bit values are converted to fp32 on load; all arithmetic is fp32.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "dynamic_shared.cuh"

namespace tierkv {

constexpr int kF32 = 0;
constexpr int kF16 = 1;
constexpr int kBF16 = 2;

__device__ __forceinline__ float bf16Bits(unsigned short b) { return __uint_as_float(((unsigned) b) << 16); }
__device__ __forceinline__ float f16Bits(unsigned short h) { return __half2float(__ushort_as_half(h)); }

// Element i of an array of type DT, as fp32 (read-only data path).
template <int DT>
__device__ __forceinline__ float loadAs(const void* base, long long i) {
    if constexpr (DT == kF32) {
        return __ldg(reinterpret_cast<const float*>(base) + i);
    } else if constexpr (DT == kF16) {
        return f16Bits(__ldg(reinterpret_cast<const unsigned short*>(base) + i));
    } else {
        return bf16Bits(__ldg(reinterpret_cast<const unsigned short*>(base) + i));
    }
}

// The same with the type chosen at run time (for small kernels where one uniform branch per element is free).
__device__ __forceinline__ float loadAny(const void* base, long long i, int dtype) {
    if (dtype == kF32) return loadAs<kF32>(base, i);
    if (dtype == kF16) return loadAs<kF16>(base, i);
    return loadAs<kBF16>(base, i);
}

// Plain load (no read-only path): for memory another kernel or the host may have written (mapped pinned memory).
template <int DT>
__device__ __forceinline__ float loadPlain(const unsigned char* base, long long i) {
    if constexpr (DT == kF32) {
        return reinterpret_cast<const float*>(base)[i];
    } else if constexpr (DT == kF16) {
        return f16Bits(reinterpret_cast<const unsigned short*>(base)[i]);
    } else {
        return bf16Bits(reinterpret_cast<const unsigned short*>(base)[i]);
    }
}

// The 16 bytes of a uint4 as 4 (F32) or 8 (F16, BF16) floats, in memory order.
template <int DT>
__device__ __forceinline__ void unpack16(const uint4& u, float* f) {
    const unsigned w[4] = {u.x, u.y, u.z, u.w};
    if constexpr (DT == kF32) {
#pragma unroll
        for (int j = 0; j < 4; ++j) f[j] = __uint_as_float(w[j]);
    } else if constexpr (DT == kBF16) {
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            f[2 * j] = __uint_as_float(w[j] << 16);
            f[2 * j + 1] = __uint_as_float(w[j] & 0xffff0000u);
        }
    } else {
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            f[2 * j] = f16Bits((unsigned short) (w[j] & 0xffffu));
            f[2 * j + 1] = f16Bits((unsigned short) (w[j] >> 16));
        }
    }
}

// Element i of an array of run-time type dtype set to v, rounded to nearest even for F16 and BF16.
__device__ __forceinline__ void storeAs(unsigned char* base, long long i, float v, int dtype) {
    if (dtype == kF32) {
        reinterpret_cast<float*>(base)[i] = v;
    } else if (dtype == kF16) {
        reinterpret_cast<__half*>(base)[i] = __float2half_rn(v);
    } else {
        reinterpret_cast<__nv_bfloat16*>(base)[i] = __float2bfloat16_rn(v);
    }
}

template <int DT>
struct ElemBytes { static constexpr int value = DT == kF32 ? 4 : 2; };

}  // namespace tierkv

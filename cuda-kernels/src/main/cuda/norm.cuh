// The RMSNorm scale of one row, shared by rmsnorm (decoder_ops.cu) and the GEMVs that fold the norm in (linear.cu):
// the same threads, order and reduction in both, so a fused kernel's normalised input equals rmsnorm's output bit for
// bit. Header only; the CTA has kNormThreads threads.
#pragma once

namespace tierkv {

constexpr int kNormThreads = 256;
constexpr int kNormWarps = kNormThreads / 32;

// The sum of v over the CTA, in every thread; scratch holds kNormWarps floats.
__device__ __forceinline__ float blockSum(float v, float* scratch) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    if ((threadIdx.x & 31) == 0) scratch[threadIdx.x >> 5] = v;
    __syncthreads();
    float s = 0.0f;
#pragma unroll
    for (int w = 0; w < kNormWarps; ++w) s += scratch[w];
    __syncthreads();
    return s;
}

// rsqrt(mean(x^2) + eps) over x[0 .. dim - 1], in every thread of the CTA.
__device__ __forceinline__ float rmsInverse(const float* x, int dim, float eps, float* scratch) {
    float ss = 0.0f;
    for (int i = threadIdx.x; i < dim; i += kNormThreads) {
        const float v = x[i];
        ss = fmaf(v, v, ss);
    }
    ss = blockSum(ss, scratch);
    return rsqrtf(ss / (float) dim + eps);
}

}  // namespace tierkv

// One RoPE pair's rotation, shared by every kernel that applies it (decoder_ops.cu's rope, linear.cu's fused QKV GEMV).
// Explicit round-to-nearest products and sums: the compiler contracts none of them into an FMA, so the two kernels round
// alike (their K slots are compared bit for bit) and both round as the CPU's float math does.
#pragma once

namespace tierkv {

__device__ __forceinline__ void rotatePair(float x1, float x2, float c, float s, float& r1, float& r2) {
    r1 = __fsub_rn(__fmul_rn(x1, c), __fmul_rn(x2, s));
    r2 = __fadd_rn(__fmul_rn(x2, c), __fmul_rn(x1, s));
}

}  // namespace tierkv

// Block-wide helpers shared by the TierKV kernels (header only; each .cu file is one concern).
//
// Written for a fixed block of TIERKV_THREADS threads, a multiple of 32. Every function must be
// called by all threads of the block (they contain __syncthreads).
#pragma once

#include "dynamic_shared.cuh"

#ifndef TIERKV_THREADS
#define TIERKV_THREADS 256
#endif

namespace tierkv {

constexpr int kThreads = TIERKV_THREADS;
constexpr int kWarps = kThreads / 32;
constexpr unsigned kFullMask = 0xffffffffu;

static_assert(kThreads % 32 == 0 && kThreads <= 1024, "block size must be a multiple of 32, at most 1024");

// Exclusive prefix sum of one value per thread, in thread order; *total receives the block's sum.
// warpSums: __shared__ scratch of kWarps entries.
__device__ __forceinline__ unsigned blockExclusiveSum(unsigned v, unsigned* warpSums, unsigned* total) {
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    unsigned x = v;
#pragma unroll
    for (int o = 1; o < 32; o <<= 1) {
        unsigned y = __shfl_up_sync(kFullMask, x, o);
        if (lane >= o) x += y;
    }
    if (lane == 31) warpSums[warp] = x;  // inclusive sum of the warp
    __syncthreads();
    unsigned before = 0, all = 0;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) {
        unsigned s = warpSums[w];
        if (w < warp) before += s;
        all += s;
    }
    __syncthreads();  // warpSums may be reused right after
    *total = all;
    return before + x - v;
}

// Appends, for every thread with keep == true, one slot from *counter (shared or global), with one
// atomic per warp; returns the thread's slot (undefined when keep is false). All 32 lanes of each
// warp must call it together.
__device__ __forceinline__ unsigned warpAppend(bool keep, unsigned* counter) {
    const unsigned lane = threadIdx.x & 31;
    const unsigned ballot = __ballot_sync(kFullMask, keep);
    unsigned base = 0;
    if (ballot != 0) {
        const int leader = __ffs(ballot) - 1;
        if (lane == (unsigned) leader) base = atomicAdd(counter, (unsigned) __popc(ballot));
        base = __shfl_sync(kFullMask, base, leader);
    }
    return base + __popc(ballot & ((1u << lane) - 1u));
}

}  // namespace tierkv

// Runs a one-CTA CUDA kernel as host C++: one std::thread per CUDA thread, barriers for __syncthreads and warp shuffles
// (every lane of a warp must call a shuffle, as on the device), __shared__ as function statics (one CTA at a time).
#pragma once
#include <barrier>
#include <cmath>
#include <algorithm>
#include <thread>
#include <vector>
#include <functional>
using std::min;
struct Dim3 { int x, y, z; };
inline thread_local Dim3 threadIdx{0, 0, 0};
inline Dim3 blockIdx{0, 0, 0};
inline Dim3 blockDim{1, 1, 1};
inline Dim3 gridDim{1, 1, 1};
#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __restrict__ __restrict
#define __shared__ static
inline std::barrier<>* g_block = nullptr;
inline std::barrier<>* g_warp[32];
inline void __syncthreads() { g_block->arrive_and_wait(); }
template <typename T> T shfl(T v, int o) {
    static T slot[32][32];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    slot[warp][lane] = v;
    g_warp[warp]->arrive_and_wait();
    T r = lane + o < 32 ? slot[warp][lane + o] : v;
    g_warp[warp]->arrive_and_wait();
    return r;
}
inline float __shfl_down_sync(unsigned, float v, int o) { return shfl<float>(v, o); }
inline int __shfl_down_sync(unsigned, int v, int o) { return shfl<int>(v, o); }
inline void launch1(int threads, const std::function<void()>& body) {
    std::barrier<> block(threads);
    g_block = &block;
    for (int w = 0; w < 32; w++) { g_warp[w] = new std::barrier<>(32); }
    blockDim = {threads, 1, 1};
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; t++) {
        ts.emplace_back([t, &body] { threadIdx = {t, 0, 0}; body(); });
    }
    for (auto& t : ts) t.join();
    for (int w = 0; w < 32; w++) delete g_warp[w];
}

// Runs a CUDA kernel as host C++: one std::thread per CUDA thread, barriers for __syncthreads and warp shuffles
// (every lane of a warp must call a shuffle, as on the device), __shared__ as function statics (one CTA at a time:
// launch() runs a grid's CTAs one after another). The device intrinsics the kernels use are plain loads here.
#pragma once
#include <atomic>
#include <barrier>
#include <cmath>
#include <algorithm>
#include <thread>
#include <vector>
#include <functional>
#include <cstdint>
#include <cstring>
using std::min;
using std::max;
struct uint4 { unsigned x, y, z, w; };
struct float4 { float x, y, z, w; };
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return uint4{x, y, z, w}; }
inline float4 make_float4(float x, float y, float z, float w) { return float4{x, y, z, w}; }
template <typename T> inline T __ldg(const T* p) { return *p; }
template <typename T> inline T __ldcs(const T* p) { return *p; }
template <typename T> inline T __ldcg(const T* p) { return *p; }
inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline unsigned atomicAdd(unsigned* p, unsigned v) { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }
inline float __uint_as_float(unsigned u) { float f; memcpy(&f, &u, 4); return f; }
inline float __int_as_float(int i) { float f; memcpy(&f, &i, 4); return f; }
inline unsigned __float_as_uint(float f) { unsigned u; memcpy(&u, &f, 4); return u; }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
// round-to-nearest intrinsics: plain operations (compile with -ffp-contract=off so that none is fused)
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
using std::isinf;
#define __align__(n) alignas(n)
// dynamic shared memory (dtype.cuh's TIERKV_DYNAMIC_SHARED): one buffer, the CTAs running one after another
alignas(16) inline unsigned char g_dynamicShared[1 << 17];
#define TIERKV_DYNAMIC_SHARED(T, name) T* name = reinterpret_cast<T*>(g_dynamicShared)
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
template <typename T> T shflXor(T v, int o) {
    static T slot[32][32];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    slot[warp][lane] = v;
    g_warp[warp]->arrive_and_wait();
    T r = slot[warp][lane ^ o];
    g_warp[warp]->arrive_and_wait();
    return r;
}
inline float __shfl_xor_sync(unsigned, float v, int o) { return shflXor<float>(v, o); }
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
// A grid of gridX x gridY x gridZ CTAs of `threads` threads, one CTA after another: z fastest, then x, then y, so that
// CTAs that differ only in z (the rows of one launch) run between each other, as they may on a GPU.
inline void launch3(int gridX, int gridY, int gridZ, int threads, const std::function<void()>& body) {
    gridDim = {gridX, gridY, gridZ};
    for (int y = 0; y < gridY; y++) {
        for (int x = 0; x < gridX; x++) {
            for (int z = 0; z < gridZ; z++) {
                blockIdx = {x, y, z};
                launch1(threads, body);
            }
        }
    }
    blockIdx = {0, 0, 0};
    gridDim = {1, 1, 1};
}
// A grid of gridX x gridY CTAs of `threads` threads, one CTA after another (x fastest).
inline void launch2(int gridX, int gridY, int threads, const std::function<void()>& body) { launch3(gridX, gridY, 1, threads, body); }
// A grid of gridX CTAs of `threads` threads, one CTA after another.
inline void launch(int gridX, int threads, const std::function<void()>& body) { launch2(gridX, 1, threads, body); }

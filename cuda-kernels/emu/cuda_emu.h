// The device side of the CPU emulator (see README.md): what a kernel in src/main/cuda needs in order to compile as host
// C++ and run with every CUDA thread of a CTA as a fiber on a host thread.
//
// Fibers switch only at __syncthreads and at the warp intrinsics, so a kernel runs deterministically, without data
// races, and a CTA of 1024 threads costs 1024 small stacks, not 1024 OS threads. __shared__ variables are function
// statics: the driver runs one CTA at a time, under one lock, so they are per CTA as on the device. (Running CTAs
// on several host threads made __shared__ thread_local, and the TLS lookups ate what the second core gained.) Exited threads
// count as arrived at a barrier (as on Volta and later); a warp intrinsic waits for the lanes of its mask that have
// not exited, so a shuffle a lane of the mask never reaches deadlocks here, as it may hang on the device: the
// scheduler reports that as an error instead of hanging.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

using std::max;
using std::min;

// The vector types with the device's alignment, so that a misaligned vector load is seen (the build's
// -fsanitize=alignment stops the process there, as the device would fault).
struct alignas(16) uint4 { unsigned x, y, z, w; };
struct alignas(16) int4 { int x, y, z, w; };
struct alignas(16) float4 { float x, y, z, w; };
struct alignas(8) float2 { float x, y; };
struct alignas(8) uint2 { unsigned x, y; };
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return uint4{x, y, z, w}; }
inline float4 make_float4(float x, float y, float z, float w) { return float4{x, y, z, w}; }
inline float2 make_float2(float x, float y) { return float2{x, y}; }

struct EmuDim3 { unsigned x, y, z; };
// The running fiber's coordinates, set by the scheduler before it resumes a fiber (globals: the compiler reloads them
// after every switch, which is an opaque call). Hidden, so that the kernels reach them without a symbol lookup.
#define EMU_HIDDEN __attribute__((visibility("hidden")))
extern EMU_HIDDEN EmuDim3 threadIdx;
extern EMU_HIDDEN EmuDim3 blockIdx;
extern EMU_HIDDEN EmuDim3 blockDim;
extern EMU_HIDDEN EmuDim3 gridDim;
constexpr int warpSize = 32;

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...)
// In a section of their own, so that the driver can set every __shared__ byte to 0xff before each CTA: a kernel that
// reads shared memory it did not write this CTA sees NaN or -1, not a zero or the previous CTA's value.
#define __shared__ static __attribute__((section("emu_shared")))
#define __constant__ static
#define __align__(n) alignas(n)

// dtype.cuh's dynamic shared memory: the launch's buffer, set by the driver for each launch.
extern EMU_HIDDEN unsigned char* emu_dynamic_shared;
#define TIERKV_DYNAMIC_SHARED(T, name) T* name = reinterpret_cast<T*>(emu_dynamic_shared)

// The scheduler's entry points (driver.cpp).
void emu_syncthreads();
// What a warp exchange returns: the value of each lane that took part (`lanes`), poison bits for the others.
struct EmuExchange {
    unsigned long long values[32];
    unsigned lanes;
};
constexpr unsigned long long kEmuPoison = ~0ull;  // a value read from a lane that did not take part (NaN, -1)
// Waits until every lane of `mask` that has not exited has arrived with its `value`.
const EmuExchange* emu_warp_exchange(unsigned mask, unsigned long long value);

inline void __syncthreads() { emu_syncthreads(); }
inline void __syncwarp(unsigned mask = 0xffffffffu) { emu_warp_exchange(mask, 0); }
inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_block() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

template <typename T> inline unsigned long long emu_bits(T v) {
    static_assert(sizeof(T) <= 8, "a shuffled value has at most 8 bytes");
    unsigned long long b = 0;
    memcpy(&b, &v, sizeof(T));
    return b;
}
template <typename T> inline T emu_value(unsigned long long b) {
    T v;
    memcpy(&v, &b, sizeof(T));
    return v;
}
inline unsigned emu_lane() { return (threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z)) & 31u; }

// Lanes are grouped in segments of `width` (a power of two, at most 32), as on the device.
template <typename T> inline T __shfl_sync(unsigned mask, T v, int src, int width = 32) {
    const unsigned long long* all = emu_warp_exchange(mask, emu_bits(v))->values;
    unsigned lane = emu_lane(), base = lane & ~(unsigned) (width - 1);
    return emu_value<T>(all[base + ((unsigned) src & (unsigned) (width - 1))]);
}
template <typename T> inline T __shfl_xor_sync(unsigned mask, T v, int laneMask, int width = 32) {
    const unsigned long long* all = emu_warp_exchange(mask, emu_bits(v))->values;
    unsigned lane = emu_lane(), base = lane & ~(unsigned) (width - 1);
    unsigned src = lane ^ (unsigned) laneMask;
    return emu_value<T>(src < base + (unsigned) width ? all[src] : all[lane]);
}
template <typename T> inline T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32) {
    const unsigned long long* all = emu_warp_exchange(mask, emu_bits(v))->values;
    unsigned lane = emu_lane(), base = lane & ~(unsigned) (width - 1);
    return emu_value<T>(lane + delta < base + (unsigned) width ? all[lane + delta] : all[lane]);
}
template <typename T> inline T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = 32) {
    const unsigned long long* all = emu_warp_exchange(mask, emu_bits(v))->values;
    unsigned lane = emu_lane(), base = lane & ~(unsigned) (width - 1);
    return emu_value<T>(lane >= base + delta ? all[lane - delta] : all[lane]);
}
inline unsigned __ballot_sync(unsigned mask, int predicate) {
    const EmuExchange* x = emu_warp_exchange(mask, predicate != 0 ? 1 : 0);
    unsigned out = 0;
    for (unsigned l = 0; l < 32; l++) {
        if (((mask & x->lanes) >> l) & 1u && x->values[l] == 1) out |= 1u << l;  // exited lanes vote 0
    }
    return out;
}
inline int __any_sync(unsigned mask, int predicate) { return __ballot_sync(mask, predicate) != 0; }
inline int __all_sync(unsigned mask, int predicate) { return __ballot_sync(mask, predicate) == __ballot_sync(mask, 1); }
template <typename T> inline unsigned __match_any_sync(unsigned mask, T v) {
    const EmuExchange* x = emu_warp_exchange(mask, emu_bits(v));
    unsigned lane = emu_lane(), out = 0;
    for (unsigned l = 0; l < 32; l++) {
        if (((mask & x->lanes) >> l) & 1u && x->values[l] == x->values[lane]) out |= 1u << l;
    }
    return out;
}

// Loads and stores through the caches: plain ones here, but global-space only, as on the device (ld.global.nc, .cs,
// .cg, .ca; st.global.cs, .cg): given an address in shared memory, a GPU stops the kernel with
// CUDA_ERROR_INVALID_ADDRESS_SPACE (717) and the context is lost. The emulator fails the launch with that error and says
// which intrinsic it was; the access itself goes through, on host memory, so the CTA still ends.
extern "C" EMU_HIDDEN unsigned char __start_emu_shared;  // the linker's bounds of the __shared__ section above
extern "C" EMU_HIDDEN unsigned char __stop_emu_shared;
extern EMU_HIDDEN size_t emu_dynamic_shared_bytes;
void emu_address_space_fault(const void* p, const char* intrinsic);
inline void emuGlobalSpace(const void* p, const char* intrinsic) {
    const unsigned char* b = static_cast<const unsigned char*>(p);
    if ((b >= &__start_emu_shared && b < &__stop_emu_shared)
        || (b >= emu_dynamic_shared && b < emu_dynamic_shared + emu_dynamic_shared_bytes)) {
        emu_address_space_fault(p, intrinsic);
    }
}
template <typename T> inline T __ldg(const T* p) { emuGlobalSpace(p, "__ldg"); return *p; }
template <typename T> inline T __ldcs(const T* p) { emuGlobalSpace(p, "__ldcs"); return *p; }
template <typename T> inline T __ldcg(const T* p) { emuGlobalSpace(p, "__ldcg"); return *p; }
template <typename T> inline T __ldca(const T* p) { emuGlobalSpace(p, "__ldca"); return *p; }
template <typename T> inline void __stcs(T* p, T v) { emuGlobalSpace(p, "__stcs"); *p = v; }
template <typename T> inline void __stcg(T* p, T v) { emuGlobalSpace(p, "__stcg"); *p = v; }

// Atomics: the host's (one fiber runs at a time, but a plain read-modify-write would hide nothing here).
template <typename T> inline T atomicAdd(T* p, T v) { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }
inline unsigned atomicAdd(unsigned* p, int v) { return __atomic_fetch_add(p, (unsigned) v, __ATOMIC_SEQ_CST); }
template <typename T, typename F> inline T emuAtomicUpdate(T* p, F f) {
    T old = __atomic_load_n(p, __ATOMIC_SEQ_CST);
    while (!__atomic_compare_exchange_n(p, &old, f(old), false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
    }
    return old;
}
inline float atomicAdd(float* p, float v) {
    unsigned old = emuAtomicUpdate(reinterpret_cast<unsigned*>(p), [v](unsigned u) {
        float f;
        memcpy(&f, &u, 4);
        f += v;
        memcpy(&u, &f, 4);
        return u;
    });
    float f;
    memcpy(&f, &old, 4);
    return f;
}
template <typename T> inline T atomicMax(T* p, T v) { return emuAtomicUpdate(p, [v](T o) { return v > o ? v : o; }); }
template <typename T> inline T atomicMin(T* p, T v) { return emuAtomicUpdate(p, [v](T o) { return v < o ? v : o; }); }
template <typename T> inline T atomicExch(T* p, T v) { return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST); }
template <typename T> inline T atomicCAS(T* p, T expected, T v) {
    __atomic_compare_exchange_n(p, &expected, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    return expected;
}
template <typename T> inline T atomicOr(T* p, T v) { return __atomic_fetch_or(p, v, __ATOMIC_SEQ_CST); }

inline float __uint_as_float(unsigned u) { float f; memcpy(&f, &u, 4); return f; }
inline float __int_as_float(int i) { float f; memcpy(&f, &i, 4); return f; }
inline unsigned __float_as_uint(float f) { unsigned u; memcpy(&u, &f, 4); return u; }
inline int __float_as_int(float f) { int i; memcpy(&i, &f, 4); return i; }
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz((unsigned) x); }
inline unsigned __brev(unsigned x) {
    unsigned r = 0;
    for (int i = 0; i < 32; i++) r |= ((x >> i) & 1u) << (31 - i);
    return r;
}

// Round-to-nearest intrinsics: plain operations; the build passes -ffp-contract=off so that none is fused.
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }
inline float __expf(float x) { return expf(x); }
inline float __logf(float x) { return logf(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __saturatef(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x); }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
using std::isinf;
using std::isnan;
using std::isfinite;

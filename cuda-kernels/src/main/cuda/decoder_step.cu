// The two per-step kernels a paged decoder needs besides the math of decoder_ops.cu and linear.cu:
//   kv_append  consecutive tokens' K and V (fp32, RoPE applied) written into rows `row ..` of slot `slot` of a KV
//              slab, converted to the slab's element type (round to nearest even for F16/BF16)
//   argmax     the index of the largest of n floats, the lowest index among equal ones (Java's Sampler.argmax);
//              NaN never wins; INT_MAX when no element is a number
// Slab layout (io.tierkv.cuda.ops.PagedKvShape, tiering's slot layout): slot s starts s * slotBytes after the slab;
// its K half is [blockSize][kvHeads][headDim] of the element type, its V half the same halfBytes after it.

#include <climits>
#include "dtype.cuh"

namespace {

constexpr int kThreads = 256;
constexpr int kArgmaxThreads = 1024;

// (v, i) beats (bestV, bestI): larger value, or the same value at a lower index. NaN compares false: never wins.
__device__ __forceinline__ bool beats(float v, int i, float bestV, int bestI) {
    return v > bestV || (v == bestV && i < bestI);
}

}  // namespace

// k, v: [rows][rowElems] f32 (rowElems = kvHeads * headDim); slab as above. Writes element e of the rows to
// slab + slot * slotBytes (+ halfBytes for V) at element index row * rowElems + e: rows row .. row + rows - 1 of the
// slot, which hold consecutive tokens. 1-D grid, grid-stride. The host checks slot, rows and the sizes against the slab.
extern "C" __global__ void __launch_bounds__(kThreads)
kv_append(const float* __restrict__ k, const float* __restrict__ v, unsigned char* slab, long long slotBytes,
          long long halfBytes, int slot, int row, int rowElems, int dtype, int rows) {
    unsigned char* kBase = slab + (long long) slot * slotBytes;
    unsigned char* vBase = kBase + halfBytes;
    const long long first = (long long) row * rowElems;
    const int total = rows * rowElems;
    for (int e = blockIdx.x * kThreads + threadIdx.x; e < total; e += gridDim.x * kThreads) {
        tierkv::storeAs(kBase, first + e, k[e], dtype);
        tierkv::storeAs(vBase, first + e, v[e], dtype);
    }
}

// x: [n] f32; out: one int. One CTA of 1024 threads: each thread scans a stride, then the warps and the block reduce.
extern "C" __global__ void __launch_bounds__(kArgmaxThreads)
argmax(const float* __restrict__ x, int n, int* out) {
    __shared__ float warpV[kArgmaxThreads / 32];
    __shared__ int warpI[kArgmaxThreads / 32];
    float bestV = -INFINITY;
    int bestI = INT_MAX;
    for (int i = threadIdx.x; i < n; i += kArgmaxThreads) {
        const float v = x[i];
        if (beats(v, i, bestV, bestI)) {
            bestV = v;
            bestI = i;
        }
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        const float v = __shfl_down_sync(0xffffffffu, bestV, o);
        const int i = __shfl_down_sync(0xffffffffu, bestI, o);
        if (beats(v, i, bestV, bestI)) {
            bestV = v;
            bestI = i;
        }
    }
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    if (lane == 0) {
        warpV[warp] = bestV;
        warpI[warp] = bestI;
    }
    __syncthreads();
    if (warp == 0) {
        bestV = warpV[lane];  // 1024 threads: exactly 32 warps, one per lane
        bestI = warpI[lane];
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) {
            const float v = __shfl_down_sync(0xffffffffu, bestV, o);
            const int i = __shfl_down_sync(0xffffffffu, bestI, o);
            if (beats(v, i, bestV, bestI)) {
                bestV = v;
                bestI = i;
            }
        }
        if (lane == 0) *out = bestI;
    }
}

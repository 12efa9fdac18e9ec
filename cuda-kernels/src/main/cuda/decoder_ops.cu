// The small per-token operations of a Llama decoder layer, fp32 activations:
//   rmsnorm   out[r][i] = x[r][i] * rsqrt(mean_i(x[r]^2) + eps) * w[i]          (w in F32/F16/BF16)
//   rope      Hugging Face's rotate-half RoPE on q and k in place, from cos/sin tables [positions][headDim / 2]
//             (llama3 scaling is in the tables: the host builds them from the scaled inv_freq)
//   silu_mul  out[i] = gate[i] / (1 + exp(-gate[i])) * up[i]
//   add       out[i] = a[i] + b[i]                                               (out may alias a or b)
//   embed     out[t][d] = table[id_t][d] as fp32                                 (table in F32/F16/BF16)
// Each is memory-bound; one thread per element (grid-stride), one CTA per row for rmsnorm.

#include "dtype.cuh"
#include "norm.cuh"
#include "rope.cuh"

namespace {

constexpr int kThreads = tierkv::kNormThreads;

}  // namespace

// x, out: [rows][dim] f32 (may alias); w: [dim] of wDtype. Grid = rows, block = 256.
extern "C" __global__ void __launch_bounds__(kThreads)
rmsnorm(const float* x, float* out, const void* __restrict__ w, int wDtype, int dim, float eps) {
    __shared__ float scratch[tierkv::kNormWarps];
    const float* xr = x + (long long) blockIdx.x * dim;
    float* orow = out + (long long) blockIdx.x * dim;
    const float inv = tierkv::rmsInverse(xr, dim, eps, scratch);
    for (int i = threadIdx.x; i < dim; i += kThreads) orow[i] = (xr[i] * inv) * tierkv::loadAny(w, i, wDtype);
}

// q: [tokens][heads][headDim], k: [tokens][kvHeads][headDim] f32, rotated in place; token t has position
// start + t; cos, sin: [tableRows][headDim / 2] f32 (the host checks start + tokens <= tableRows).
// One thread per (token, head of q or k, pair i < headDim / 2): x1 = x[i], x2 = x[i + half];
// x[i] = x1 cos - x2 sin, x[i + half] = x2 cos + x1 sin. 1-D grid, grid-stride.
extern "C" __global__ void __launch_bounds__(kThreads)
rope(float* q, float* k, int tokens, int heads, int kvHeads, int headDim, int start, const float* __restrict__ cosTable,
     const float* __restrict__ sinTable) {
    const int half = headDim >> 1;
    const long long perToken = (long long) (heads + kvHeads) * half;
    const long long total = (long long) tokens * perToken;
    for (long long e = (long long) blockIdx.x * kThreads + threadIdx.x; e < total; e += (long long) gridDim.x * kThreads) {
        const int t = (int) (e / perToken);
        const long long rem = e - t * perToken;
        const int h = (int) (rem / half);
        const int i = (int) (rem - (long long) h * half);
        float* row = h < heads ? q + ((long long) t * heads + h) * headDim
                               : k + ((long long) t * kvHeads + (h - heads)) * headDim;
        const long long tab = (long long) (start + t) * half + i;
        const float c = __ldg(cosTable + tab);
        const float s = __ldg(sinTable + tab);
        const float x1 = row[i];
        const float x2 = row[i + half];
        tierkv::rotatePair(x1, x2, c, s, row[i], row[i + half]);
    }
}

// out[i] = silu(gate[i]) * up[i], n elements; out may alias gate or up. 1-D grid, grid-stride.
extern "C" __global__ void __launch_bounds__(kThreads)
silu_mul(const float* gate, const float* up, float* out, long long n) {
    for (long long i = (long long) blockIdx.x * kThreads + threadIdx.x; i < n; i += (long long) gridDim.x * kThreads) {
        const float g = gate[i];
        out[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

// out[i] = a[i] + b[i], n elements; out may alias a or b. 1-D grid, grid-stride.
extern "C" __global__ void __launch_bounds__(kThreads)
add(const float* a, const float* b, float* out, long long n) {
    for (long long i = (long long) blockIdx.x * kThreads + threadIdx.x; i < n; i += (long long) gridDim.x * kThreads) {
        out[i] = a[i] + b[i];
    }
}

// out[t][d] = table[id][d] as f32 for t < count, id = ids[t] (device array) or, when ids is null, firstId + t.
// An id outside [0, vocab) writes NaN to its row instead of reading out of bounds. 1-D grid, grid-stride.
extern "C" __global__ void __launch_bounds__(kThreads)
embed(const void* __restrict__ table, int dtype, int vocab, int dim, const int* __restrict__ ids, int firstId, int count,
      float* __restrict__ out) {
    const long long total = (long long) count * dim;
    for (long long e = (long long) blockIdx.x * kThreads + threadIdx.x; e < total; e += (long long) gridDim.x * kThreads) {
        const int t = (int) (e / dim);
        const int d = (int) (e - (long long) t * dim);
        const int id = ids != nullptr ? __ldg(ids + t) : firstId + t;
        out[e] = (id >= 0 && id < vocab) ? tierkv::loadAny(table, (long long) id * dim + d, dtype) : __int_as_float(0x7fc00000);
    }
}

// Quest-style block digests on the device: per full KV block, the elementwise minimum and maximum of its
// keys per KV head (optionally per sub-block, "part"), kept as bfloat16 rounded OUTWARD (a minimum down, a
// maximum up), and the bound of each query head's score over a block. The semantics are model's
// BlockDigests; io.tierkv.cuda.ops.DigestMirror is this file step for step in Java (the gpu test holds the
// kernels to it bit for bit on the digests).
//
// Digest array: u16 bfloat16 bits, digest index i at digests + i * 2 * parts * kvHeads * headDim, laid out
// (2, parts, kvHeads, headDim): the minima of every part, then the maxima.
//
// digest_update_<dtype>: grid (nBlocks, parts), kThreads threads. CTA (b, p) reads the keys of list entry b,
// slot slots[b] (K half at slab + slot * slotBytes + keyOffset, (blockSize, kvHeads, headDim) row-major,
// rows [p * blockSize / parts, (p + 1) * blockSize / parts) of part p); thread t walks the columns
// e = t, t + kThreads, ... < kvHeads * headDim and, for each, the rows in order, keeping
//   mn = v < mn ? v : mn,  mx = v > mx ? v : mx   (starting from row 0's value)
// and writes bf16Down(mn) and bf16Up(mx) at digest index digestIndexes[b]. Entries whose slot is outside
// [0, capacity) or whose digest index is outside [0, digestCapacity) are skipped: nothing is read or written.
// The slab is read with plain loads (it may be mapped pinned memory or written by another kernel).
//
// digest_bound: one thread per (list entry b, query head h), i = b * heads + h; 1-D grid of kThreads-thread
// CTAs. With g = h / (heads / kvHeads) and index = digestIndexes[b]:
//   s_p = sum over d in order of max(q[h][d] * min_p[g][d], q[h][d] * max_p[g][d])    (fp32, round to nearest,
//                                                                                       no fused multiply-add)
//   out[i] = scale * max over parts p of s_p
// and out[i] = +inf when index is outside [0, digestCapacity) (no digest: the block must be read, as in the
// host selector). Digest rows and q rows are read as 16-byte vectors: headDim must be a multiple of 8 and q
// 16-byte aligned (CudaBlockDigests checks both on the host).
//
// The rank sum_h exp(bound_h - best_h) and the top-N selection are left on the host (DigestMirror.rank):
// n is small and the bounds are (nBlocks, heads) floats.
//
// Digests of codes with a sketch (DigestShape bits 8 or 4, sketch 1, 2 or 4, one part): model's BlockDigests
// (update = encode + codeKeys, score) on the device; DigestMirror.updateSketch / score are the same in Java, and the
// kernels equal them bit for bit (every float op is an explicit round-to-nearest intrinsic, so nvcc can neither fuse
// nor approximate; Java's Math.min / max / floor / ceil / rint / nextUp and its (int) casts are reproduced exactly).
// One digest is a record of blockBytes bytes (a multiple of 16) at digests + index * blockBytes:
//   [0, 8 K)            per KV head kh: float32 lo, float32 step (floats 2 kh, 2 kh + 1)
//   [8 K, + 2 K d bits / 8)   box codes, value i = (which * K + kh) * d + dd (which 0: minimum, 1: maximum);
//                             bits 8: byte i; bits 4: byte i >> 1, low nibble for even i, high for odd i
//   then B K d sketch / 8     sketch codes, value i = (t * K + kh) * d + dd for token row t, 8 / sketch per byte,
//                             code i at bit (i % (8 / sketch)) * sketch
//   then zeros up to blockBytes.
//
// digest_sketch_update_<dtype>: grid (nBlocks), kThreads threads, dynamic shared memory
// 4 * (2 K d + 2 K) + 2 K d bytes (CudaBlockDigests.sketchSharedBytes). CTA b reads list entry b's keys as
// digest_update does (slot slots[b], K half at slab + slot * slotBytes + keyOffset, (B, K, d), plain loads) and
// writes every byte of digest digestIndexes[b], each byte by one thread:
//   1. per column (kh, dd), threads over columns: mn, mx over the rows in order from row 0's value
//      (v < mn ? v : mn, v > mx ? v : mx), into shared memory;
//   2. per KV head, threads over heads: lo = Math.min over dd of mn, hi = Math.max over dd of mx,
//      levels = 2^bits - 1, step = (hi - lo) / levels; if !(step > 0) || isinf(step): step = hi > lo ?
//      FLT_MAX / levels : 1; while (lo + levels * step < hi) step = nextUp(step);  lo and step to the record;
//   3. per column: cmin = clamp(floor((mn - lo) / step), 0, levels), lowered while lo + cmin * step > mn;
//      cmax = clamp(ceil((mx - lo) / step), 0, levels), raised while lo + cmax * step < mx; then the sketch's
//      floor f = lo + cmin * step and step u = (lo + cmax * step - f) / (2^sketch - 1) (over mn and mx in shared);
//   4. threads over the record's bytes after the floats: box codes packed from shared memory, sketch codes
//      c = u > 0 ? clamp(rint((k - f) / u), 0, 2^sketch - 1) : 0 of the key(s) of the byte, then zero padding.
// Entries whose slot is outside [0, capacity) or whose index is outside [0, digestCapacity) are skipped.
//
// digest_sketch_score: one warp per (list entry b, query head h), i = b * heads + h; 1-D grid of kThreads-thread
// CTAs (a thread per (entry, head) ran 16 rows' dims one after the other: ~40 us a layer on an H200 for 28 blocks). With kh = h / (heads / K), the digest at index = digestIndexes[b], per dd the sketch's floor f_d and step u_d
// (step 3 above, from the stored codes) and w_d = q[h][dd] * u_d:
//   offset = sum over dd in order of q[h][dd] * f_d                       (fp32 from 0)
//   s_t    = sum over dd in order of w_d * code(t, kh, dd)                 (fp32 from 0, each row t)
//   out[i] = (offset + Math.max over t in order of s_t) * scale
// and out[i] = +inf when index is outside [0, digestCapacity). The lanes compute the dims' terms and the rows' sums
// (sketchScoreWarp), each sum still in order of dd: equal to BlockDigests.score bit for bit.
//
// digest_exact_<dtype>: the exact best score of a few candidate blocks. Grid (nBlocks), 32 * min(K, 8) threads
// (CudaBlockDigests.exactThreads); warp w takes KV heads w, w + warps, ...; for each (exact_keys.cuh's exactPair, which
// head_slices_exact shares), query heads in passes of 8, lanes over the block's rows (r = lane, lane + 32, ...), each lane the dots of its row for the pass's heads
// (16-byte plain loads: the slab may be mapped pinned memory; fused multiply-adds), then a warp max:
//   out[b * heads + h] = max over live rows r of scale * q[h] . K[r][kh]
// Row r of entry b is live when r < validRows[b] (validRows null: all B rows) and mask[b * B + r] == 0 (mask null:
// none evicted). -inf when headMask[b * K + kh] == 0 (the KV head's keys are not read), when no row is live, or when
// slots[b] is outside [0, capacity). Keys at slab + slot * slotBytes + keyOffset, (B, K, d): slab, slotBytes and
// keyOffset multiples of 16, d a multiple of 8 and at most 256 (CudaBlockDigests checks on the host).

#include "dtype.cuh"
#include "exact_keys.cuh"

namespace {

constexpr int kThreads = 256;

// The largest bfloat16 not above x (finite x): truncation rounds a positive x down, a negative one up (then one ulp
// further out).
__device__ __forceinline__ unsigned short bf16Down(float x) {
    const unsigned bits = __float_as_uint(x);
    const bool inexact = (bits & 0xffffu) != 0u;
    return (unsigned short) ((bits >> 16) + (inexact && x < 0.0f ? 1u : 0u));
}

// The smallest bfloat16 not below x (finite x).
__device__ __forceinline__ unsigned short bf16Up(float x) {
    const unsigned bits = __float_as_uint(x);
    const bool inexact = (bits & 0xffffu) != 0u;
    return (unsigned short) ((bits >> 16) + (inexact && x > 0.0f ? 1u : 0u));
}

template <int DT>
__device__ __forceinline__ void digestUpdate(const unsigned char* slab, long long slotBytes, long long keyOffset,
                                             const int* __restrict__ slots, const int* __restrict__ digestIndexes,
                                             unsigned short* __restrict__ digests, int capacity, int digestCapacity,
                                             int blockSize, int kvHeads, int headDim, int parts) {
    const int entry = blockIdx.x;
    const int part = blockIdx.y;
    const int slot = __ldg(slots + entry);
    const int index = __ldg(digestIndexes + entry);
    if (slot < 0 || slot >= capacity || index < 0 || index >= digestCapacity) return;
    const int row = kvHeads * headDim;
    const int rows = blockSize / parts;
    const unsigned char* keys = slab + (long long) slot * slotBytes + keyOffset;
    const long long first = (long long) part * rows * row;
    unsigned short* lo = digests + (long long) index * 2 * parts * row + (long long) part * row;
    unsigned short* hi = lo + (long long) parts * row;
    for (int e = threadIdx.x; e < row; e += blockDim.x) {
        float mn = tierkv::loadPlain<DT>(keys, first + e);
        float mx = mn;
        for (int r = 1; r < rows; ++r) {
            const float v = tierkv::loadPlain<DT>(keys, first + (long long) r * row + e);
            mn = v < mn ? v : mn;
            mx = v > mx ? v : mx;
        }
        lo[e] = bf16Down(mn);
        hi[e] = bf16Up(mx);
    }
}

}  // namespace

#define TIERKV_DIGEST_UPDATE(SUFFIX, DT)                                                                              \
    extern "C" __global__ void __launch_bounds__(kThreads) digest_update_##SUFFIX(                                    \
        const unsigned char* slab, long long slotBytes, long long keyOffset, const int* __restrict__ slots,          \
        const int* __restrict__ digestIndexes, unsigned short* __restrict__ digests, int capacity, int digestCapacity, \
        int nBlocks, int blockSize, int kvHeads, int headDim, int parts) {                                           \
        (void) nBlocks; /* the grid's x extent */                                                                     \
        digestUpdate<DT>(slab, slotBytes, keyOffset, slots, digestIndexes, digests, capacity, digestCapacity,        \
                         blockSize, kvHeads, headDim, parts);                                                         \
    }

TIERKV_DIGEST_UPDATE(f32, tierkv::kF32)
TIERKV_DIGEST_UPDATE(f16, tierkv::kF16)
TIERKV_DIGEST_UPDATE(bf16, tierkv::kBF16)

extern "C" __global__ void __launch_bounds__(kThreads) digest_bound(const float* __restrict__ q,
                                                                    const unsigned short* __restrict__ digests,
                                                                    const int* __restrict__ digestIndexes,
                                                                    float* __restrict__ out, int digestCapacity, int nBlocks,
                                                                    int heads, int kvHeads, int headDim, int parts,
                                                                    float scale) {
    const long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (long long) nBlocks * heads) return;
    const int b = (int) (i / heads);
    const int h = (int) (i - (long long) b * heads);
    const int index = __ldg(digestIndexes + b);
    if (index < 0 || index >= digestCapacity) {
        out[i] = INFINITY;
        return;
    }
    const int g = h / (heads / kvHeads);
    const int row = kvHeads * headDim;
    const unsigned short* base = digests + (long long) index * 2 * parts * row + (long long) g * headDim;
    const float4* qh = reinterpret_cast<const float4*>(q + (long long) h * headDim);
    const int chunks = headDim / 8;
    float best = -INFINITY;
    for (int p = 0; p < parts; ++p) {
        const uint4* lo = reinterpret_cast<const uint4*>(base + (long long) p * row);
        const uint4* hi = reinterpret_cast<const uint4*>(base + (long long) (parts + p) * row);
        float s = 0.0f;
        for (int c = 0; c < chunks; ++c) {
            float mn[8];
            float mx[8];
            tierkv::unpack16<tierkv::kBF16>(__ldg(lo + c), mn);
            tierkv::unpack16<tierkv::kBF16>(__ldg(hi + c), mx);
            const float4 q0 = __ldg(qh + 2 * c);
            const float4 q1 = __ldg(qh + 2 * c + 1);
            const float qd[8] = {q0.x, q0.y, q0.z, q0.w, q1.x, q1.y, q1.z, q1.w};
#pragma unroll
            for (int j = 0; j < 8; ++j) {
                const float a = __fmul_rn(qd[j], mn[j]);
                const float z = __fmul_rn(qd[j], mx[j]);
                s = __fadd_rn(s, a > z ? a : z);
            }
        }
        best = s > best ? s : best;
    }
    out[i] = __fmul_rn(best, scale);
}

namespace {

constexpr unsigned kFull = 0xffffffffu;

// Java's Math.min(float, float): NaN when either is NaN, -0 below +0.
__device__ __forceinline__ float javaMin(float a, float b) {
    if (a != a) return a;
    if (a == 0.0f && b == 0.0f && __float_as_uint(b) == 0x80000000u) return b;
    return a <= b ? a : b;
}

// Java's Math.max(float, float): NaN when either is NaN, +0 above -0.
__device__ __forceinline__ float javaMax(float a, float b) {
    if (a != a) return a;
    if (a == 0.0f && b == 0.0f && __float_as_uint(a) == 0x80000000u) return b;
    return a >= b ? a : b;
}

// Java's (int) Math.max(0, Math.min(top, x)) for an integral float x (floor, ceil or rint of a quotient): NaN -> 0.
__device__ __forceinline__ int clampCode(float x, int top) {
    return x >= (float) top ? top : (x > 0.0f ? (int) x : 0);
}

// lo + c * step in float32, as Java computes it (no fused multiply-add).
__device__ __forceinline__ float codeValue(float lo, int c, float step) {
    return __fadd_rn(lo, __fmul_rn((float) c, step));
}

// Box code i of a digest's codes (bits 8: byte i; bits 4: nibble i of the bytes, low first).
__device__ __forceinline__ int boxCode(const unsigned char* __restrict__ box, int i, int bits) {
    return bits == 8 ? (int) __ldg(box + i) : (int) ((__ldg(box + (i >> 1)) >> ((i & 1) * 4)) & 0xfu);
}

template <int DT>
__device__ __forceinline__ void sketchUpdate(const unsigned char* slab, long long slotBytes, long long keyOffset,
                                             const int* __restrict__ slots, const int* __restrict__ digestIndexes,
                                             unsigned char* __restrict__ digests, long long blockBytes, int capacity,
                                             int digestCapacity, int blockSize, int kvHeads, int headDim, int bits, int sketch) {
    TIERKV_DYNAMIC_SHARED(float, sketchShared);
    const int entry = blockIdx.x;
    const int slot = __ldg(slots + entry);
    const int index = __ldg(digestIndexes + entry);
    if (slot < 0 || slot >= capacity || index < 0 || index >= digestCapacity) return;  // the whole CTA, before any barrier
    const int row = kvHeads * headDim;
    const unsigned char* keys = slab + (long long) slot * slotBytes + keyOffset;
    unsigned char* out = digests + (long long) index * blockBytes;
    float* mn = sketchShared;           // [row]: minima, then the sketch's floors
    float* mx = mn + row;               // [row]: maxima, then the sketch's steps
    float* loAt = mx + row;             // [kvHeads]
    float* stepAt = loAt + kvHeads;     // [kvHeads]
    unsigned char* codes = reinterpret_cast<unsigned char*>(stepAt + kvHeads);  // [2][row]: box codes, minima then maxima

    // 1. each column's extremes, rows in order
    for (int e = threadIdx.x; e < row; e += blockDim.x) {
        float a = tierkv::loadPlain<DT>(keys, e);
        float z = a;
        for (int r = 1; r < blockSize; ++r) {
            const float v = tierkv::loadPlain<DT>(keys, (long long) r * row + e);
            a = v < a ? v : a;
            z = v > z ? v : z;
        }
        mn[e] = a;
        mx[e] = z;
    }
    __syncthreads();

    // 2. each KV head's offset and step (BlockDigests.encode)
    const int levels = (1 << bits) - 1;
    const float fLevels = (float) levels;
    for (int kh = threadIdx.x; kh < kvHeads; kh += blockDim.x) {
        float lo = INFINITY;
        float hi = -INFINITY;
        for (int d = 0; d < headDim; ++d) {
            lo = javaMin(lo, mn[kh * headDim + d]);
            hi = javaMax(hi, mx[kh * headDim + d]);
        }
        float step = __fdiv_rn(__fsub_rn(hi, lo), fLevels);
        if (!(step > 0.0f) || isinf(step)) {
            step = hi > lo ? __fdiv_rn(__uint_as_float(0x7f7fffffu) /* Float.MAX_VALUE */, fLevels) : 1.0f;
        }
        while (__fadd_rn(lo, __fmul_rn(fLevels, step)) < hi) {
            step = nextafterf(step, INFINITY);  // Math.nextUp
        }
        loAt[kh] = lo;
        stepAt[kh] = step;
        float* f = reinterpret_cast<float*>(out);
        f[2 * kh] = lo;
        f[2 * kh + 1] = step;
    }
    __syncthreads();

    // 3. each column's box codes, then the sketch's floor and step over the extremes (BlockDigests.boxSteps)
    const int sketchLevels = (1 << sketch) - 1;
    for (int e = threadIdx.x; e < row; e += blockDim.x) {
        const int kh = e / headDim;
        const float lo = loAt[kh];
        const float step = stepAt[kh];
        const float a = mn[e];
        int c = clampCode(floorf(__fdiv_rn(__fsub_rn(a, lo), step)), levels);
        while (c > 0 && codeValue(lo, c, step) > a) --c;
        const int cMin = c;
        const float z = mx[e];
        c = clampCode(ceilf(__fdiv_rn(__fsub_rn(z, lo), step)), levels);
        while (c < levels && codeValue(lo, c, step) < z) ++c;
        const int cMax = c;
        codes[e] = (unsigned char) cMin;
        codes[row + e] = (unsigned char) cMax;
        const float floorD = codeValue(lo, cMin, step);
        mn[e] = floorD;
        mx[e] = __fdiv_rn(__fsub_rn(codeValue(lo, cMax, step), floorD), (float) sketchLevels);
    }
    __syncthreads();

    // 4. every byte after the floats, each by one thread: box codes, sketch codes (BlockDigests.codeKeys), padding
    const long long boxBytes = 2LL * row * bits / 8;
    const long long sketchBytes = (long long) blockSize * row * sketch / 8;
    const int perByte = 8 / sketch;
    unsigned char* bytes = out + 8 * kvHeads;
    const long long tail = blockBytes - 8LL * kvHeads;
    for (long long i = threadIdx.x; i < tail; i += blockDim.x) {
        unsigned v = 0u;
        if (i < boxBytes) {
            v = bits == 8 ? (unsigned) codes[i] : (unsigned) codes[2 * i] | ((unsigned) codes[2 * i + 1] << 4);
        } else if (i - boxBytes < sketchBytes) {
            const long long first = (i - boxBytes) * perByte;  // key element (t * K + kh) * d + dd = t * row + column
            for (int j = 0; j < perByte; ++j) {
                const long long k = first + j;
                const int e = (int) (k % row);
                const float floorD = mn[e];
                const float stepD = mx[e];
                int c = 0;
                if (stepD > 0.0f) {
                    const float key = tierkv::loadPlain<DT>(keys, k);
                    c = clampCode(rintf(__fdiv_rn(__fsub_rn(key, floorD), stepD)), sketchLevels);
                }
                v |= (unsigned) c << (j * sketch);
            }
        }
        bytes[i] = (unsigned char) v;
    }
}

// digest_sketch_score for one (entry, head) with SKETCH bits per code (see the file's header), spread over a warp (every
// lane calls it, with the same arguments): lane l computes the per-dimension terms of d = l, l + 32, ... (q_d f_d and
// w_d), and the lanes share them by shuffles in order of d, so that every sum keeps the header's order and bits; lane l sums rows l, l + 32, ...; the
// rows' best is Java's max over the lanes (order-free: NaN absorbs, +0 beats -0). Every lane returns the score.
template <int SKETCH>
__device__ __forceinline__ float sketchScoreWarp(const float* __restrict__ qh, const unsigned char* __restrict__ digest, int kh,
                                                 int kvHeads, int headDim, int blockSize, int bits, int lane) {
    constexpr int kPerByte = 8 / SKETCH;
    constexpr int kMask = (1 << SKETCH) - 1;
    constexpr int kDimsPerLane = 8;  // head dims up to 256 (CudaBlockDigests checks)
    const float fLevels = (float) kMask;
    const int row = kvHeads * headDim;
    const float lo = __ldg(reinterpret_cast<const float*>(digest) + 2 * kh);
    const float step = __ldg(reinterpret_cast<const float*>(digest) + 2 * kh + 1);
    const unsigned char* box = digest + 8 * kvHeads;
    const unsigned char* sketch = box + 2LL * row * bits / 8;
    const int minAt = kh * headDim;
    const int maxAt = row + kh * headDim;
    float term[kDimsPerLane];  // q_d * f_d of d = j * 32 + lane
    float w[kDimsPerLane];     // q_d * u_d
#pragma unroll
    for (int j = 0; j < kDimsPerLane; ++j) {
        const int d = j * 32 + lane;
        term[j] = 0.0f;
        w[j] = 0.0f;
        if (d < headDim) {
            const float floorD = codeValue(lo, boxCode(box, minAt + d, bits), step);
            const float stepD = __fdiv_rn(__fsub_rn(codeValue(lo, boxCode(box, maxAt + d, bits), step), floorD), fLevels);
            const float qd = __ldg(qh + d);
            term[j] = __fmul_rn(qd, floorD);
            w[j] = __fmul_rn(qd, stepD);
        }
    }
    float offset = 0.0f;
#pragma unroll
    for (int j = 0; j < kDimsPerLane; ++j) {
        for (int l = 0; l < 32 && j * 32 + l < headDim; ++l) {  // the same bound on every lane
            offset = __fadd_rn(offset, __shfl_sync(kFull, term[j], l));
        }
    }
    float best = -INFINITY;
    for (int r0 = 0; r0 < blockSize; r0 += 32) {  // the same passes on every lane
        const int r = r0 + lane;
        const bool live = r < blockSize;
        const unsigned char* codes = sketch + ((long long) (live ? r : 0) * row + kh * headDim) / kPerByte;
        float sum = 0.0f;
        unsigned b = 0;
#pragma unroll
        for (int j = 0; j < kDimsPerLane; ++j) {
            for (int l = 0; l < 32 && j * 32 + l < headDim; ++l) {
                const int d = j * 32 + l;
                const float wd = __shfl_sync(kFull, w[j], l);
                if (d % kPerByte == 0) b = __ldg(codes + d / kPerByte);
                sum = __fadd_rn(sum, __fmul_rn(wd, (float) ((b >> ((d % kPerByte) * SKETCH)) & kMask)));
            }
        }
        if (live) best = javaMax(best, sum);
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) best = javaMax(best, __shfl_xor_sync(kFull, best, o));
    return offset + best;  // rounded to nearest; the caller scales with __fmul_rn
}

template <int DT>
__device__ __forceinline__ void digestExact(const float* __restrict__ q, const unsigned char* slab, long long slotBytes,
                                            long long keyOffset, const int* __restrict__ slots, const int* __restrict__ validRows,
                                            const unsigned char* __restrict__ mask, const unsigned char* __restrict__ headMask,
                                            float* __restrict__ out, int capacity, int blockSize, int heads, int kvHeads, int headDim,
                                            float scale) {
    const int entry = blockIdx.x;
    const int warp = threadIdx.x >> 5;
    const int lane = threadIdx.x & 31;
    const int warps = blockDim.x >> 5;
    const int slot = __ldg(slots + entry);
    const bool slotOk = slot >= 0 && slot < capacity;
    int rows = validRows != nullptr ? __ldg(validRows + entry) : blockSize;
    rows = rows < blockSize ? rows : blockSize;
    const int group = heads / kvHeads;
    const long long rowBytes = (long long) kvHeads * headDim * tierkv::ElemBytes<DT>::value;
    const unsigned char* keys = slab + (long long) (slotOk ? slot : 0) * slotBytes + keyOffset;
    const unsigned char* rowMask = mask != nullptr ? mask + (long long) entry * blockSize : nullptr;
    for (int kh = warp; kh < kvHeads; kh += warps) {
        const bool on = slotOk && __ldg(headMask + (long long) entry * kvHeads + kh) != 0;
        tierkv::exactPair<DT>(q, keys, rowBytes, rowMask, rows, kh, group, headDim, scale, on, lane,
                              out + (long long) entry * heads + (long long) kh * group);
    }
}

}  // namespace

#define TIERKV_DIGEST_SKETCH(SUFFIX, DT)                                                                              \
    extern "C" __global__ void __launch_bounds__(kThreads) digest_sketch_update_##SUFFIX(                             \
        const unsigned char* slab, long long slotBytes, long long keyOffset, const int* __restrict__ slots,          \
        const int* __restrict__ digestIndexes, unsigned char* __restrict__ digests, long long blockBytes, int capacity, \
        int digestCapacity, int nBlocks, int blockSize, int kvHeads, int headDim, int bits, int sketch) {             \
        (void) nBlocks; /* the grid's x extent */                                                                     \
        sketchUpdate<DT>(slab, slotBytes, keyOffset, slots, digestIndexes, digests, blockBytes, capacity,             \
                         digestCapacity, blockSize, kvHeads, headDim, bits, sketch);                                  \
    }                                                                                                                 \
    extern "C" __global__ void __launch_bounds__(kThreads) digest_exact_##SUFFIX(                                     \
        const float* __restrict__ q, const unsigned char* slab, long long slotBytes, long long keyOffset,            \
        const int* __restrict__ slots, const int* __restrict__ validRows, const unsigned char* __restrict__ mask,     \
        const unsigned char* __restrict__ headMask, float* __restrict__ out, int capacity, int nBlocks, int blockSize, \
        int heads, int kvHeads, int headDim, float scale) {                                                           \
        (void) nBlocks; /* the grid's x extent */                                                                     \
        digestExact<DT>(q, slab, slotBytes, keyOffset, slots, validRows, mask, headMask, out, capacity, blockSize,    \
                        heads, kvHeads, headDim, scale);                                                              \
    }

TIERKV_DIGEST_SKETCH(f32, tierkv::kF32)
TIERKV_DIGEST_SKETCH(f16, tierkv::kF16)
TIERKV_DIGEST_SKETCH(bf16, tierkv::kBF16)

extern "C" __global__ void __launch_bounds__(kThreads) digest_sketch_score(const float* __restrict__ q,
                                                                           const unsigned char* __restrict__ digests,
                                                                           const int* __restrict__ digestIndexes,
                                                                           float* __restrict__ out, long long blockBytes,
                                                                           int digestCapacity, int nBlocks, int heads, int kvHeads,
                                                                           int headDim, int blockSize, int bits, int sketch,
                                                                           float scale) {
    const long long i = ((long long) blockIdx.x * blockDim.x + threadIdx.x) >> 5;  // a warp per (entry, head)
    const int lane = threadIdx.x & 31;
    if (i >= (long long) nBlocks * heads) return;  // the whole warp
    const int b = (int) (i / heads);
    const int h = (int) (i - (long long) b * heads);
    const int index = __ldg(digestIndexes + b);
    if (index < 0 || index >= digestCapacity) {
        if (lane == 0) out[i] = INFINITY;
        return;
    }
    const int kh = h / (heads / kvHeads);
    const float* qh = q + (long long) h * headDim;
    const unsigned char* digest = digests + (long long) index * blockBytes;
    float v;
    if (sketch == 1) {
        v = sketchScoreWarp<1>(qh, digest, kh, kvHeads, headDim, blockSize, bits, lane);
    } else if (sketch == 2) {
        v = sketchScoreWarp<2>(qh, digest, kh, kvHeads, headDim, blockSize, bits, lane);
    } else {
        v = sketchScoreWarp<4>(qh, digest, kh, kvHeads, headDim, blockSize, bits, lane);
    }
    if (lane == 0) out[i] = __fmul_rn(v, scale);
}

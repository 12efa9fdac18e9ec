// Paged decode attention for one query token (all heads, grouped-query attention), reading K and V in
// place through a block table, plus the exact merge of partial results by log-sum-exp.
//
// KV slab: slot s starts at slab + s * slotBytes; its K half is [blockSize][kvHeads][headDim] of the KV
// dtype at +0, its V half the same at +halfBytes (tiering's slot layout: a slab is a dense
// (capacity, 2, blockSize, kvHeads, headDim) tensor; slotBytes >= 2 * halfBytes). The slab may be device
// memory or mapped pinned host memory (a UVA host pointer): the kernel reads it with plain loads.
//
// List entry b (0 <= b < nBlocks) is slot slots[b]; its rows r < validRows[b] (all blockSize rows when
// validRows is null) are before the causal edge; a row with mask[b * blockSize + r] != 0 (mask may be
// null) is evicted. The other rows take no part. A slot id outside [0, capacity) is skipped like an
// evicted block rather than read out of bounds (a wrong table must not poison the context).
//
// Result per query head h (g = h / (heads / kvHeads)), with s_t = scale * q_h . K_t over the live rows t:
//   out[h][:] = sum_t exp(s_t - M) V_t / sum_t exp(s_t - M)      (normalised)
//   lse[h]    = M + log(sum_t exp(s_t - M))                        (natural log; -inf and out = 0 when no row is live)
// Two parts (say device blocks and host blocks) merge exactly with lse_merge:
//   L = log(exp(lse1) + exp(lse2)), out = exp(lse1 - L) out1 + exp(lse2 - L) out2.
//
// Work split (flash-decoding): paged_attention_<dtype> runs on grid (kvHeads, splits); CTA (g, s) walks
// list entries [s * blocksPerSplit, min(nBlocks, (s + 1) * blocksPerSplit)); its 4 warps take rows in
// turn, lane l owning columns l, l + 32, ... (headDim <= 256). Each warp keeps, per query head of the
// group, an online softmax (running max m, sum l, accumulator acc[headDim]) in shared memory; the warps
// then merge into the CTA's partial (m, l, acc) in the scratch. attention_combine (grid = heads) merges
// the splits into out and lse.
// Dynamic shared memory of paged_attention: 4 * (group * headDim + 4 * (group * headDim + 2 * group)) bytes.

#include "dtype.cuh"

namespace {

constexpr int kThreads = 128;
constexpr int kWarps = kThreads / 32;
constexpr int kMaxPerLane = 8;  // headDim <= 256

__device__ __forceinline__ float warpSum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// exp(a - b) that is 0 when a is -inf (also when both are -inf, where a - b is NaN).
__device__ __forceinline__ float expDiff(float a, float b) {
    return a == -INFINITY ? 0.0f : expf(a - b);
}

// The start of list row i's K row (row r of its block, KV head 0), or null when the row is past the causal
// edge, evicted, or in a slot outside the slab. Row i is row i % blockSize of list entry b0 + i / blockSize.
__device__ __forceinline__ const unsigned char* liveRow(int i, int b0, const unsigned char* slab, long long slotBytes,
                                                       long long rowBytes, const int* __restrict__ slots,
                                                       const int* __restrict__ validRows, const unsigned char* __restrict__ mask,
                                                       int capacity, int blockSize) {
    const int q = i / blockSize;
    const int b = b0 + q;
    const int r = i - q * blockSize;
    const int rows = validRows != nullptr ? __ldg(validRows + b) : blockSize;
    if (r >= rows) return nullptr;
    if (mask != nullptr && __ldg(mask + (long long) b * blockSize + r) != 0) return nullptr;
    const int slotId = __ldg(slots + b);
    if (slotId < 0 || slotId >= capacity) return nullptr;
    return slab + (long long) slotId * slotBytes + (long long) r * rowBytes;
}

// Lane `lane`'s columns d = lane + 32 j of K and V at element offset `off` of a row (zeros for a null row
// or columns past headDim). Plain loads: the slab may be mapped host memory.
template <int DT>
__device__ __forceinline__ void loadRow(const unsigned char* row, long long off, long long halfBytes, int headDim, int lane,
                                        float* kd, float* vd) {
#pragma unroll
    for (int j = 0; j < kMaxPerLane; ++j) {
        const int d = lane + 32 * j;
        const bool in = row != nullptr && d < headDim;
        kd[j] = in ? tierkv::loadPlain<DT>(row, off + d) : 0.0f;
        vd[j] = in ? tierkv::loadPlain<DT>(row + halfBytes, off + d) : 0.0f;
    }
}

// One row into the warp's online softmax of every query head of the group: s = q_h . k, then
// m' = max(m, s), acc = acc e^(m - m') + e^(s - m') v, l = l e^(m - m') + e^(s - m'). Lane 0 writes m and l.
__device__ __forceinline__ void update(const float* kd, const float* vd, const float* qs, float* acc, float* mw, float* lw,
                                       int group, int headDim, int lane) {
    for (int hg = 0; hg < group; ++hg) {
        float s = 0.0f;
#pragma unroll
        for (int j = 0; j < kMaxPerLane; ++j) {
            const int d = lane + 32 * j;
            if (d < headDim) s = fmaf(kd[j], qs[hg * headDim + d], s);
        }
        s = warpSum(s);
        const float mOld = mw[hg];
        const float mNew = fmaxf(mOld, s);
        const float corr = expDiff(mOld, mNew);
        const float p = expf(s - mNew);
#pragma unroll
        for (int j = 0; j < kMaxPerLane; ++j) {
            const int d = lane + 32 * j;
            if (d < headDim) acc[hg * headDim + d] = fmaf(acc[hg * headDim + d], corr, p * vd[j]);
        }
        const float lNew = fmaf(lw[hg], corr, p);
        __syncwarp();
        if (lane == 0) {
            mw[hg] = mNew;
            lw[hg] = lNew;
        }
        __syncwarp();
    }
}

template <int DT>
__device__ void pagedAttention(const float* __restrict__ q, const unsigned char* slab, long long slotBytes, long long halfBytes,
                               const int* __restrict__ slots, const int* __restrict__ validRows,
                               const unsigned char* __restrict__ mask, int capacity, int nBlocks, int blockSize, int heads, int kvHeads,
                               int headDim, float scale, int blocksPerSplit, int splits, float* __restrict__ partAcc,
                               float* __restrict__ partMax, float* __restrict__ partSum) {
    extern __shared__ float smem[];
    const int group = heads / kvHeads;
    const int g = blockIdx.x;
    const int split = blockIdx.y;
    const int warp = threadIdx.x >> 5;
    const int lane = threadIdx.x & 31;
    const int gd = group * headDim;
    float* qs = smem;                              // [group][headDim], pre-scaled
    float* accAll = qs + gd;                       // [kWarps][group][headDim]
    float* mAll = accAll + kWarps * gd;            // [kWarps][group]
    float* lAll = mAll + kWarps * group;           // [kWarps][group]
    float* acc = accAll + warp * gd;
    float* mw = mAll + warp * group;
    float* lw = lAll + warp * group;

    for (int i = threadIdx.x; i < gd; i += kThreads) qs[i] = scale * __ldg(q + (long long) g * gd + i);
    for (int i = threadIdx.x; i < kWarps * gd; i += kThreads) accAll[i] = 0.0f;
    for (int i = threadIdx.x; i < kWarps * group; i += kThreads) {
        mAll[i] = -INFINITY;
        lAll[i] = 0.0f;
    }
    __syncthreads();

    const int b0 = split * blocksPerSplit;
    const int b1 = min(nBlocks, b0 + blocksPerSplit);
    const int rowsInSplit = (b1 - b0) * blockSize;
    const long long rowBytes = (long long) kvHeads * headDim * tierkv::ElemBytes<DT>::value;
    // Two rows per warp per iteration (i and i + kWarps): both rows' loads are issued before either is
    // used, so every warp keeps two rows of K and V in flight. Loop, branches and shuffles are warp-uniform.
    for (int i = warp; i < rowsInSplit; i += 2 * kWarps) {
        const unsigned char* rowA = liveRow(i, b0, slab, slotBytes, rowBytes, slots, validRows, mask, capacity, blockSize);
        const unsigned char* rowB = i + kWarps < rowsInSplit
                ? liveRow(i + kWarps, b0, slab, slotBytes, rowBytes, slots, validRows, mask, capacity, blockSize) : nullptr;
        const long long off = (long long) g * headDim;
        float kA[kMaxPerLane], vA[kMaxPerLane], kB[kMaxPerLane], vB[kMaxPerLane];
        loadRow<DT>(rowA, off, halfBytes, headDim, lane, kA, vA);
        loadRow<DT>(rowB, off, halfBytes, headDim, lane, kB, vB);
        if (rowA != nullptr) update(kA, vA, qs, acc, mw, lw, group, headDim, lane);
        if (rowB != nullptr) update(kB, vB, qs, acc, mw, lw, group, headDim, lane);
    }
    __syncthreads();

    // Merge the warps: the CTA's partial for each query head of the group.
    for (int i = threadIdx.x; i < gd; i += kThreads) {
        const int hg = i / headDim;
        const int d = i - hg * headDim;
        float m = -INFINITY;
#pragma unroll
        for (int w = 0; w < kWarps; ++w) m = fmaxf(m, mAll[w * group + hg]);
        float a = 0.0f;
        float l = 0.0f;
#pragma unroll
        for (int w = 0; w < kWarps; ++w) {
            const float f = expDiff(mAll[w * group + hg], m);
            a = fmaf(accAll[w * gd + i], f, a);
            l = fmaf(lAll[w * group + hg], f, l);
        }
        const long long h = (long long) g * group + hg;
        partAcc[(h * splits + split) * headDim + d] = a;
        if (d == 0) {
            partMax[h * splits + split] = m;
            partSum[h * splits + split] = l;
        }
    }
}

}  // namespace

// q: [heads][headDim] f32; partAcc: [heads][splits][headDim]; partMax, partSum: [heads][splits] f32 (scratch).
// Grid = (kvHeads, splits), block = 128; splits = ceil(nBlocks / blocksPerSplit) >= 1.
#define TIERKV_PAGED_ATTENTION(NAME, DT)                                                                                \
    extern "C" __global__ void __launch_bounds__(kThreads)                                                              \
    NAME(const float* __restrict__ q, const unsigned char* slab, long long slotBytes, long long halfBytes,             \
         const int* __restrict__ slots, const int* __restrict__ validRows, const unsigned char* __restrict__ mask,     \
         int capacity, int nBlocks, int blockSize, int heads, int kvHeads, int headDim, float scale, int blocksPerSplit,             \
         float* __restrict__ partAcc, float* __restrict__ partMax, float* __restrict__ partSum) {                      \
        pagedAttention<DT>(q, slab, slotBytes, halfBytes, slots, validRows, mask, capacity, nBlocks, blockSize, heads, kvHeads,  \
                           headDim, scale, blocksPerSplit, gridDim.y, partAcc, partMax, partSum);                       \
    }

TIERKV_PAGED_ATTENTION(paged_attention_f32, tierkv::kF32)
TIERKV_PAGED_ATTENTION(paged_attention_f16, tierkv::kF16)
TIERKV_PAGED_ATTENTION(paged_attention_bf16, tierkv::kBF16)

// Merges the splits of paged_attention: out[h][d] (normalised) and lse[h]. Grid = heads, block = 128.
// splits = 0 (no blocks) gives out = 0, lse = -inf.
extern "C" __global__ void __launch_bounds__(kThreads)
attention_combine(const float* __restrict__ partAcc, const float* __restrict__ partMax, const float* __restrict__ partSum,
                  int splits, int headDim, float* __restrict__ out, float* __restrict__ lse) {
    const long long h = blockIdx.x;
    float m = -INFINITY;
    for (int s = 0; s < splits; ++s) m = fmaxf(m, partMax[h * splits + s]);
    float l = 0.0f;
    for (int s = 0; s < splits; ++s) l = fmaf(partSum[h * splits + s], expDiff(partMax[h * splits + s], m), l);
    const bool empty = !(l > 0.0f);
    const float inv = empty ? 0.0f : 1.0f / l;
    for (int d = threadIdx.x; d < headDim; d += kThreads) {
        float a = 0.0f;
        for (int s = 0; s < splits; ++s) a = fmaf(partAcc[(h * splits + s) * headDim + d], expDiff(partMax[h * splits + s], m), a);
        out[h * headDim + d] = a * inv;
    }
    if (threadIdx.x == 0) lse[h] = empty ? -INFINITY : m + logf(l);
}

// Exact merge of two normalised partial attentions: out = w1 o1 + w2 o2 with w_i = exp(lse_i - L),
// L = log(exp(lse1) + exp(lse2)) = lseOut. out and lseOut may alias o1/lse1 or o2/lse2. Both -inf gives
// out = 0, lseOut = -inf. o*: [heads][headDim] f32; lse*: [heads]. Grid = heads, block = 128.
extern "C" __global__ void __launch_bounds__(kThreads)
lse_merge(const float* o1, const float* lse1, const float* o2, const float* lse2, int headDim, float* out, float* lseOut) {
    const long long h = blockIdx.x;
    const float a = lse1[h];
    const float b = lse2[h];
    const float m = fmaxf(a, b);
    const float wa = expDiff(a, m);
    const float wb = expDiff(b, m);
    const float sum = wa + wb;
    const bool empty = !(sum > 0.0f);
    const float fa = empty ? 0.0f : wa / sum;
    const float fb = empty ? 0.0f : wb / sum;
    for (int d = threadIdx.x; d < headDim; d += kThreads) {
        const long long i = h * headDim + d;
        const float x = o1[i];
        const float y = o2[i];
        out[i] = fa * x + fb * y;
    }
    __syncthreads();  // every thread has read lse1[h] and lse2[h] before they may be overwritten
    if (threadIdx.x == 0) lseOut[h] = empty ? -INFINITY : m + logf(sum);
}

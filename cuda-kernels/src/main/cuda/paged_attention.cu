// Paged decode attention for one query token (all heads, grouped-query attention), reading K and V in
// place through a block table, plus the exact merge of partial results by log-sum-exp.
//
// KV slab: slot s starts at slab + s * slotBytes; its K half is [blockSize][kvHeads][headDim] of the KV
// dtype at +0, its V half the same at +halfBytes (tiering's slot layout: a slab is a dense
// (capacity, 2, blockSize, kvHeads, headDim) tensor; slotBytes >= 2 * halfBytes). The slab may be device
// memory or mapped pinned host memory (a UVA host pointer): the kernel reads it with plain 16-byte loads
// (no read-only path), so every row must be 16-byte aligned: slab, slotBytes, halfBytes multiples of 16,
// headDim a multiple of 8 (CudaPagedAttention checks all of them on the host).
//
// List entry b (0 <= b < nBlocks) is slot slots[b]; its rows r < validRows[b] (all blockSize rows when
// validRows is null) are before the causal edge; a row with mask[b * blockSize + r] != 0 (mask may be
// null) is evicted. headMask (u8 [nBlocks][kvHeads], may be null for none) evicts per KV head: with
// headMask[b * kvHeads + g] == 0, entry b takes no part for KV head g and its query heads (as if all its rows
// were evicted), while the other KV heads still read it; a CTA serves one KV head, so this is one more
// lookup per row. The other rows take no part and are not read. A slot id outside [0, capacity) is skipped
// like an evicted block rather than read out of bounds (a wrong table must not poison the context).
//
// Two parts in one launch (a tiered sequence's device blocks, then its host blocks read over mapped pinned memory):
// the second part (a Part by value: its own slab, slots, valid rows, masks, block indexes, capacity and nBlocks; nBlocks
// 0 for none) continues the list, entry nBlocks + b being its entry b. The result is that of the two parts attended
// apart and merged with lse_merge, in one launch whose splits spread both parts' rows over the GPU.
//
// Several query rows (a prefill chunk) in one launch: grid z = row z, each with its own query, output, log-sum-exp and
// split scratch (at z times their one-row sizes), and, with firstPosition >= 0, the causal edge of its position
// firstPosition + z: row r of entry b is live only if blockIndex[b] * blockSize + r <= that position (blockIndex may be
// null: entry b holds block b). With firstPosition < 0 nothing is added to the masks above.
//
// Result per query head h (g = h / (heads / kvHeads)), with s_t = scale * q_h . K_t over the live rows t:
//   out[h][:] = sum_t exp(s_t - M) V_t / sum_t exp(s_t - M)      (normalised)
//   lse[h]    = M + log(sum_t exp(s_t - M))                        (natural log; -inf and out = 0 when no row is live)
// Two parts (say device blocks and host blocks) merge exactly with lse_merge:
//   L = log(exp(lse1) + exp(lse2)), out = exp(lse1 - L) out1 + exp(lse2 - L) out2.
//
// Work split (flash-decoding), one launch: paged_attention_<dtype>_g<G> runs on grid (kvHeads * headChunks,
// splits), 128 threads. CTA (x, s) serves KV head g = x / headChunks and its query heads
// h0 = g * group + (x % headChunks) * G .. + nh - 1 (nh = min(G, group - (x % headChunks) * G)); all of them
// share one read of K and V. It walks list entries [s * blocksPerSplit, min(nBlocks, (s + 1) * blocksPerSplit))
// in tiles of kRows * kWarps * rowsPerWarp rows:
//   - a row is read by lanesPerRow = pow2ceil(headDim / 8) lanes, lane c holding columns 8c .. 8c + 7 as one
//     16-byte load (two for F32) of K and one of V; a warp covers 32 / lanesPerRow rows at once, and every
//     thread issues the loads of its kRows rows (K and V) before it uses any of them;
//   - scores: each lane's 8-column partial dot for every head of the group, summed over the row's lanes
//     by xor shuffles, to shared memory ([G][tile], -inf for rows that take no part);
//   - online softmax per head over the tile (one warp per head): running max m, sum l, the rescale factor
//     exp(m_old - m_new), the tile's probabilities back into shared memory;
//   - acc[head][8 columns] = acc * rescale + sum over the thread's rows of p * V (V already in registers).
// At the end of the split the accumulators are summed over the rows (shuffles, then shared memory) and the
// CTA writes its partial (acc, m, l) per head. The last CTA of the (KV head, head chunk) to arrive
// (threadfence + arrival counter, the threadFenceReduction pattern) merges every split's partial into out and
// lse and leaves its counter zero again; the counters are zeroed once, when the scratch is allocated.
// Dynamic shared memory: 4 * (G * tile + max(kWarps, slices) * G * headDim + (5 + kWarps) * G) bytes with
// slices = 128 / (headDim / 4) (LaunchPlans.pagedAttention mirrors this).

#include "dtype.cuh"

namespace {

constexpr int kThreads = 128;
constexpr int kWarps = kThreads / 32;
constexpr int kRows = 4;  // rows per thread per tile
constexpr unsigned kFull = 0xffffffffu;

__device__ __forceinline__ float warpSum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(kFull, v, o);
    return v;
}

__device__ __forceinline__ float warpMax(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(kFull, v, o));
    return v;
}

// exp(a - b) that is 0 when a is -inf (also when both are -inf, where a - b is NaN).
__device__ __forceinline__ float expDiff(float a, float b) {
    return a == -INFINITY ? 0.0f : expf(a - b);
}

// The smallest power of two >= c (1 <= c <= 32).
__device__ __forceinline__ int pow2ceil(int c) {
    int p = 1;
    while (p < c) p <<= 1;
    return p;
}

// One list of entries (a part: say the device tier's blocks, or the host tier's): its slab, the slot of each entry,
// valid rows, evict masks, and where each entry's block lies for a query row's causal edge (see the top of this file).
struct Part {
    const unsigned char* slab;
    const int* slots;                  // [nBlocks]
    const int* validRows;              // [nBlocks] or null: all blockSize rows
    const unsigned char* mask;         // [nBlocks][blockSize] or null
    const unsigned char* headMask;     // [nBlocks][kvHeads] or null
    const int* blockIndex;             // [nBlocks] block of each entry, null: entry b holds block b
    int capacity;                      // slots in the slab
    int nBlocks;
};

constexpr long long kNoEdge = 0x7fffffffffffffffLL;

// The start of list row i's K row (row r of its block, KV head 0), or null when the row is past the causal
// edge (position edge; kNoEdge for none), evicted (for every head, or for the CTA's KV head g), or in a slot outside
// the slab. Row i is row i % blockSize of list entry b0 + i / blockSize: of part a below a.nBlocks, of part c after.
__device__ __forceinline__ const unsigned char* liveRow(int i, int b0, int g, long long slotBytes, long long rowBytes, const Part& a,
                                                       const Part& c, int blockSize, int kvHeads, long long edge) {
    const int q = i / blockSize;
    const int r = i - q * blockSize;
    const bool second = b0 + q >= a.nBlocks;
    const int b = second ? b0 + q - a.nBlocks : b0 + q;
    const int* validRows = second ? c.validRows : a.validRows;
    const int rows = validRows != nullptr ? __ldg(validRows + b) : blockSize;
    if (r >= rows) return nullptr;
    if (edge != kNoEdge) {
        const int* blockIndex = second ? c.blockIndex : a.blockIndex;
        const long long block = blockIndex != nullptr ? __ldg(blockIndex + b) : b;
        if (block * blockSize + r > edge) return nullptr;
    }
    const unsigned char* headMask = second ? c.headMask : a.headMask;
    if (headMask != nullptr && __ldg(headMask + (long long) b * kvHeads + g) == 0) return nullptr;
    const unsigned char* mask = second ? c.mask : a.mask;
    if (mask != nullptr && __ldg(mask + (long long) b * blockSize + r) != 0) return nullptr;
    const int slotId = __ldg((second ? c.slots : a.slots) + b);
    if (slotId < 0 || slotId >= (second ? c.capacity : a.capacity)) return nullptr;
    return (second ? c.slab : a.slab) + (long long) slotId * slotBytes + (long long) r * rowBytes;
}

// The thread's kRows rows of the tile starting at split row tileStart: row (j * kWarps + warp) * rowsPerWarp + sub
// of the tile for j = 0 .. kRows - 1, as liveRow gives them for KV head g (null past the split's rows).
__device__ __forceinline__ void lookUpRows(const unsigned char** row, int tileStart, int rows, int b0, int g, int warp,
                                           int rowsPerWarp, int sub, long long slotBytes, long long rowBytes, const Part& a,
                                           const Part& c, int blockSize, int kvHeads, long long edge) {
#pragma unroll
    for (int j = 0; j < kRows; ++j) {
        const int i = tileStart + (j * kWarps + warp) * rowsPerWarp + sub;
        row[j] = i < rows ? liveRow(i, b0, g, slotBytes, rowBytes, a, c, blockSize, kvHeads, edge) : nullptr;
    }
}

// 8 elements of the KV dtype as 16 (F16, BF16) or 32 (F32) bytes.
template <int DT>
struct Chunk {
    static constexpr int kVectors = DT == tierkv::kF32 ? 2 : 1;
    uint4 u[kVectors];

    __device__ __forceinline__ void zero() {
#pragma unroll
        for (int j = 0; j < kVectors; ++j) u[j] = make_uint4(0u, 0u, 0u, 0u);
    }

    // Plain (coherent) 16-byte loads: the slab may be mapped host memory or written by another kernel.
    __device__ __forceinline__ void load(const unsigned char* p) {
#pragma unroll
        for (int j = 0; j < kVectors; ++j) u[j] = reinterpret_cast<const uint4*>(p)[j];
    }

    __device__ __forceinline__ void unpack(float* f) const {
        if constexpr (DT == tierkv::kF32) {
            tierkv::unpack16<DT>(u[0], f);
            tierkv::unpack16<DT>(u[1], f + 4);
        } else {
            tierkv::unpack16<DT>(u[0], f);
        }
    }
};

template <int DT, int G>
__device__ void pagedAttention(const float* __restrict__ q, const unsigned char* slab, long long slotBytes, long long halfBytes,
                               const int* __restrict__ slots, const int* __restrict__ validRows,
                               const unsigned char* __restrict__ mask, const unsigned char* __restrict__ headMask, int capacity,
                               int nBlocks, int blockSize, int heads,
                               int kvHeads, int headDim, float scale, int blocksPerSplit, float* __restrict__ partAcc,
                               float* __restrict__ partMax, float* __restrict__ partSum, unsigned* __restrict__ arrivals,
                               float* __restrict__ out, float* __restrict__ lse, const int* __restrict__ liveBlocks,
                               const int* __restrict__ blockIndex, int firstPosition, const Part second) {
    TIERKV_DYNAMIC_SHARED(float, smem);
    if (liveBlocks != nullptr) nBlocks = min(nBlocks, __ldg(liveBlocks));  // the plan's nBlocks is then a bound
    __shared__ bool lastToArrive;
    const Part first{slab, slots, validRows, mask, headMask, blockIndex, capacity, nBlocks};
    const int entries = nBlocks + second.nBlocks;  // the first part's entries, then the second's

    // Query row z of the launch: its own query, output, lse, scratch and arrival counters, and its causal edge.
    const long long z = blockIdx.z;
    q += z * heads * headDim;
    out += z * heads * headDim;
    lse += z * heads;
    partAcc += z * heads * gridDim.y * headDim;
    partMax += z * heads * gridDim.y;
    partSum += z * heads * gridDim.y;
    arrivals += z * gridDim.x;
    const long long edge = firstPosition >= 0 ? firstPosition + z : kNoEdge;

    const int group = heads / kvHeads;
    const int headChunks = (group + G - 1) / G;
    const int g = blockIdx.x / headChunks;
    const int chunk = blockIdx.x - g * headChunks;
    const int h0 = g * group + chunk * G;
    const int nh = min(G, group - chunk * G);
    const int split = blockIdx.y;
    const int splits = gridDim.y;

    const int C = headDim >> 3;            // 8-column chunks per row
    const int lanesPerRow = pow2ceil(C);   // <= 32 (headDim <= 256)
    const int rowsPerWarp = 32 / lanesPerRow;
    const int tile = kRows * kWarps * rowsPerWarp;
    const int warp = threadIdx.x >> 5;
    const int lane = threadIdx.x & 31;
    const int sub = lane / lanesPerRow;    // the warp's row this lane reads
    const int c = lane & (lanesPerRow - 1);
    const bool colLive = c < C;
    const int D4 = headDim >> 2;
    const int slices = kThreads / D4;
    const int redFloats = max(kWarps, slices) * G * headDim;

    float* sc = smem;                      // [G][tile] scores, then probabilities
    float* red = sc + G * tile;            // [kWarps or slices][G][headDim] reduction scratch
    float* ms = red + redFloats;           // [G] running max
    float* ls = ms + G;                    // [G] running sum
    float* cs = ls + G;                    // [G] rescale factor of the current tile
    float* gM = cs + G;                    // [G] merged max (last CTA)
    float* gL = gM + G;                    // [G] merged sum (last CTA)
    float* wr = gL + G;                    // [kWarps][G] per-warp reduction (last CTA)

    // This lane's 8 columns of each query head, pre-scaled; zeros for columns past headDim and heads past nh.
    float qr[G][8];
#pragma unroll
    for (int hg = 0; hg < G; ++hg) {
#pragma unroll
        for (int e = 0; e < 8; ++e) {
            qr[hg][e] = hg < nh && colLive ? scale * __ldg(q + (long long) (h0 + hg) * headDim + c * 8 + e) : 0.0f;
        }
    }
    float acc[G][8];
#pragma unroll
    for (int hg = 0; hg < G; ++hg) {
#pragma unroll
        for (int e = 0; e < 8; ++e) acc[hg][e] = 0.0f;
    }
    if (threadIdx.x < G) {
        ms[threadIdx.x] = -INFINITY;
        ls[threadIdx.x] = 0.0f;
    }
    __syncthreads();

    const int b0 = split * blocksPerSplit;
    const int b1 = max(b0, min(entries, b0 + blocksPerSplit));  // a split past the live entries has none
    const int rows = (b1 - b0) * blockSize;
    const long long rowBytes = (long long) kvHeads * headDim * tierkv::ElemBytes<DT>::value;
    const long long colBytes = ((long long) g * headDim + c * 8) * tierkv::ElemBytes<DT>::value;

    // The rows of the first tile; each iteration then looks up the next tile's rows (block table, causal edge, masks)
    // while its own K and V loads are in flight, so the table's latency is not added to every tile's. F32 rows hold
    // twice the registers, so there the lookup waits for the end of the tile (where the rows' registers are free).
    constexpr bool kEarlyLookup = DT != tierkv::kF32;
    const unsigned char* nextRow[kRows];
    lookUpRows(nextRow, 0, rows, b0, g, warp, rowsPerWarp, sub, slotBytes, rowBytes, first, second, blockSize, kvHeads, edge);
    for (int tileStart = 0; tileStart < rows; tileStart += tile) {
        // Every load of the tile first: kRows rows of K and V per thread in flight.
        Chunk<DT> kc[kRows];
        Chunk<DT> vc[kRows];
        bool live[kRows];
#pragma unroll
        for (int j = 0; j < kRows; ++j) {
            const unsigned char* row = nextRow[j];
            live[j] = row != nullptr;
            if (live[j] && colLive) {
                kc[j].load(row + colBytes);
                vc[j].load(row + halfBytes + colBytes);
            } else {
                kc[j].zero();
                vc[j].zero();
            }
        }
        if constexpr (kEarlyLookup) {
            lookUpRows(nextRow, tileStart + tile, rows, b0, g, warp, rowsPerWarp, sub, slotBytes, rowBytes, first, second, blockSize,
                       kvHeads, edge);
        }
        // Scores: partial dots over the lane's 8 columns, summed over the row's lanes (uniform shuffles).
#pragma unroll
        for (int j = 0; j < kRows; ++j) {
            float k[8];
            kc[j].unpack(k);
            float s[G];
#pragma unroll
            for (int hg = 0; hg < G; ++hg) {
                float d = 0.0f;
#pragma unroll
                for (int e = 0; e < 8; ++e) d = fmaf(qr[hg][e], k[e], d);
                s[hg] = d;
            }
            for (int o = lanesPerRow >> 1; o > 0; o >>= 1) {
#pragma unroll
                for (int hg = 0; hg < G; ++hg) s[hg] += __shfl_xor_sync(kFull, s[hg], o);
            }
            if (c == 0) {
                const int t = (j * kWarps + warp) * rowsPerWarp + sub;
#pragma unroll
                for (int hg = 0; hg < G; ++hg) sc[hg * tile + t] = live[j] ? s[hg] : -INFINITY;
            }
        }
        __syncthreads();
        // Online softmax over the tile, one warp per head.
        for (int hg = warp; hg < G; hg += kWarps) {
            float mx = -INFINITY;
            for (int t = lane; t < tile; t += 32) mx = fmaxf(mx, sc[hg * tile + t]);
            mx = warpMax(mx);
            const float mOld = ms[hg];
            const float mNew = fmaxf(mOld, mx);
            float sum = 0.0f;
            for (int t = lane; t < tile; t += 32) {
                const float p = expDiff(sc[hg * tile + t], mNew);
                sc[hg * tile + t] = p;
                sum += p;
            }
            sum = warpSum(sum);
            if (lane == 0) {
                const float corr = expDiff(mOld, mNew);
                cs[hg] = corr;
                ls[hg] = fmaf(ls[hg], corr, sum);
                ms[hg] = mNew;
            }
        }
        __syncthreads();
        // acc = acc * rescale + p . V over the thread's rows (rows that take no part have p = 0 and V = 0).
#pragma unroll
        for (int hg = 0; hg < G; ++hg) {
            const float corr = cs[hg];
#pragma unroll
            for (int e = 0; e < 8; ++e) acc[hg][e] *= corr;
        }
#pragma unroll
        for (int j = 0; j < kRows; ++j) {
            float v[8];
            vc[j].unpack(v);
            const int t = (j * kWarps + warp) * rowsPerWarp + sub;
#pragma unroll
            for (int hg = 0; hg < G; ++hg) {
                const float p = sc[hg * tile + t];
#pragma unroll
                for (int e = 0; e < 8; ++e) acc[hg][e] = fmaf(p, v[e], acc[hg][e]);
            }
        }
        if constexpr (!kEarlyLookup) {
            lookUpRows(nextRow, tileStart + tile, rows, b0, g, warp, rowsPerWarp, sub, slotBytes, rowBytes, first, second, blockSize,
                       kvHeads, edge);
        }
        __syncthreads();  // sc is rewritten by the next tile
    }

    // The split's partial: acc summed over the warp's rows (shuffles), then over the warps (shared memory).
    for (int o = lanesPerRow; o < 32; o <<= 1) {
#pragma unroll
        for (int hg = 0; hg < G; ++hg) {
#pragma unroll
            for (int e = 0; e < 8; ++e) acc[hg][e] += __shfl_xor_sync(kFull, acc[hg][e], o);
        }
    }
    if (sub == 0 && colLive) {
#pragma unroll
        for (int hg = 0; hg < G; ++hg) {
            float4* dst = reinterpret_cast<float4*>(red + (warp * G + hg) * headDim + c * 8);
            dst[0] = make_float4(acc[hg][0], acc[hg][1], acc[hg][2], acc[hg][3]);
            dst[1] = make_float4(acc[hg][4], acc[hg][5], acc[hg][6], acc[hg][7]);
        }
    }
    __syncthreads();
    for (int i = threadIdx.x; i < nh * headDim; i += kThreads) {
        const int hg = i / headDim;
        const int d = i - hg * headDim;
        float a = 0.0f;
#pragma unroll
        for (int w = 0; w < kWarps; ++w) a += red[(w * G + hg) * headDim + d];
        partAcc[((long long) (h0 + hg) * splits + split) * headDim + d] = a;
    }
    if (threadIdx.x < nh) {
        partMax[(long long) (h0 + threadIdx.x) * splits + split] = ms[threadIdx.x];
        partSum[(long long) (h0 + threadIdx.x) * splits + split] = ls[threadIdx.x];
    }

    // Arrival: the last CTA of this (KV head, head chunk) sees every split's partial.
    __threadfence();
    __syncthreads();
    if (threadIdx.x == 0) lastToArrive = atomicAdd(arrivals + blockIdx.x, 1u) == (unsigned) (splits - 1);
    __syncthreads();
    if (!lastToArrive) return;
    __threadfence();

    // Merge: M = max_s m_s, L = sum_s l_s e^(m_s - M), out = sum_s acc_s e^(m_s - M) / L, lse = M + log L.
    float lm[G];
#pragma unroll
    for (int hg = 0; hg < G; ++hg) lm[hg] = -INFINITY;
    for (int s = threadIdx.x; s < splits; s += kThreads) {
#pragma unroll
        for (int hg = 0; hg < G; ++hg) {
            if (hg < nh) lm[hg] = fmaxf(lm[hg], __ldcg(partMax + (long long) (h0 + hg) * splits + s));
        }
    }
#pragma unroll
    for (int hg = 0; hg < G; ++hg) {
        const float m = warpMax(lm[hg]);
        if (lane == 0) wr[warp * G + hg] = m;
    }
    __syncthreads();
    if (threadIdx.x < G) {
        float m = -INFINITY;
#pragma unroll
        for (int w = 0; w < kWarps; ++w) m = fmaxf(m, wr[w * G + threadIdx.x]);
        gM[threadIdx.x] = m;
    }
    __syncthreads();
    float ll[G];
#pragma unroll
    for (int hg = 0; hg < G; ++hg) ll[hg] = 0.0f;
    for (int s = threadIdx.x; s < splits; s += kThreads) {
#pragma unroll
        for (int hg = 0; hg < G; ++hg) {
            if (hg < nh) {
                const long long at = (long long) (h0 + hg) * splits + s;
                ll[hg] = fmaf(__ldcg(partSum + at), expDiff(__ldcg(partMax + at), gM[hg]), ll[hg]);
            }
        }
    }
#pragma unroll
    for (int hg = 0; hg < G; ++hg) {
        const float l = warpSum(ll[hg]);
        if (lane == 0) wr[warp * G + hg] = l;
    }
    __syncthreads();
    if (threadIdx.x < G) {
        float l = 0.0f;
#pragma unroll
        for (int w = 0; w < kWarps; ++w) l += wr[w * G + threadIdx.x];
        gL[threadIdx.x] = l;
    }
    __syncthreads();
    // Thread (slice, d4) sums columns 4 d4 .. 4 d4 + 3 over the splits slice, slice + slices, ...
    const int slice = threadIdx.x / D4;
    const int d4 = threadIdx.x - slice * D4;
    if (slice < slices) {
        float4 a[G];
#pragma unroll
        for (int hg = 0; hg < G; ++hg) a[hg] = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        for (int s = slice; s < splits; s += slices) {
#pragma unroll
            for (int hg = 0; hg < G; ++hg) {
                if (hg < nh) {
                    const long long at = (long long) (h0 + hg) * splits + s;
                    const float w = expDiff(__ldcg(partMax + at), gM[hg]);
                    const float4 v = __ldcg(reinterpret_cast<const float4*>(partAcc + at * headDim) + d4);
                    a[hg].x = fmaf(w, v.x, a[hg].x);
                    a[hg].y = fmaf(w, v.y, a[hg].y);
                    a[hg].z = fmaf(w, v.z, a[hg].z);
                    a[hg].w = fmaf(w, v.w, a[hg].w);
                }
            }
        }
#pragma unroll
        for (int hg = 0; hg < G; ++hg) reinterpret_cast<float4*>(red + (slice * G + hg) * headDim)[d4] = a[hg];
    }
    __syncthreads();
    for (int i = threadIdx.x; i < nh * headDim; i += kThreads) {
        const int hg = i / headDim;
        const int d = i - hg * headDim;
        float a = 0.0f;
        for (int sl = 0; sl < slices; ++sl) a += red[(sl * G + hg) * headDim + d];
        const float l = gL[hg];
        out[(long long) (h0 + hg) * headDim + d] = l > 0.0f ? a / l : 0.0f;
    }
    if (threadIdx.x < nh) {
        const float l = gL[threadIdx.x];
        lse[h0 + threadIdx.x] = l > 0.0f ? gM[threadIdx.x] + logf(l) : -INFINITY;
    }
    if (threadIdx.x == 0) arrivals[blockIdx.x] = 0u;  // zero again for the next launch on this scratch
}

}  // namespace

// q: [heads][headDim] f32; slots, validRows: [nBlocks] i32; mask: [nBlocks][blockSize] u8; headMask: [nBlocks][kvHeads] u8
// (validRows, mask, headMask may be null); partAcc: [heads][splits][headDim]; partMax, partSum: [heads][splits] f32 (scratch);
// arrivals: [kvHeads * headChunks] u32, zero on entry and left zero; out: [heads][headDim] f32; lse: [heads] f32.
// Grid = (kvHeads * ceil(group / G), splits), block = 128, splits = ceil(nBlocks / blocksPerSplit) >= 1. liveBlocks (i32, may
// be null): the entries attended are the first min(nBlocks, *liveBlocks), read on the device, the plan made for nBlocks
// (a launch captured in a CUDA graph serves a sequence growing up to nBlocks entries; splits past the live ones are empty).
// Grid z > 1: that many query rows (q, out, lse, the scratch and the counters each z times as large, row after row);
// firstPosition >= 0 with blockIndex ([nBlocks] i32, may be null for entry b = block b): row z attends the positions up
// to firstPosition + z only. second: the second part's entries after the first's (second.nBlocks = 0 for none); blocksPerSplit
// is planned for nBlocks + second.nBlocks entries.
// Registers: at most 128 (4 CTAs per SM) for G = 1 and 2, 168 (3 CTAs) for G = 4, 255 (2 CTAs) for G = 8, where q and
// the accumulators alone are 2 x 64 floats per thread (LaunchPlans.attentionCtasPerSm mirrors this).
#define TIERKV_PAGED_ATTENTION(NAME, DT, G, MIN_CTAS)                                                                       \
    extern "C" __global__ void __launch_bounds__(kThreads, MIN_CTAS)                                                        \
    NAME(const float* __restrict__ q, const unsigned char* slab, long long slotBytes, long long halfBytes,                  \
         const int* __restrict__ slots, const int* __restrict__ validRows, const unsigned char* __restrict__ mask,          \
         const unsigned char* __restrict__ headMask, int capacity, int nBlocks, int blockSize, int heads, int kvHeads,      \
         int headDim, float scale, int blocksPerSplit, float* __restrict__ partAcc, float* __restrict__ partMax,            \
         float* __restrict__ partSum, unsigned* __restrict__ arrivals, float* __restrict__ out, float* __restrict__ lse,    \
         const int* __restrict__ liveBlocks, const int* __restrict__ blockIndex, int firstPosition, const Part second) {    \
        pagedAttention<DT, G>(q, slab, slotBytes, halfBytes, slots, validRows, mask, headMask, capacity, nBlocks,          \
                              blockSize, heads, kvHeads, headDim, scale, blocksPerSplit, partAcc, partMax, partSum,        \
                              arrivals, out, lse, liveBlocks, blockIndex, firstPosition, second);                          \
    }

TIERKV_PAGED_ATTENTION(paged_attention_f32_g1, tierkv::kF32, 1, 4)
TIERKV_PAGED_ATTENTION(paged_attention_f32_g2, tierkv::kF32, 2, 4)
TIERKV_PAGED_ATTENTION(paged_attention_f32_g4, tierkv::kF32, 4, 3)
TIERKV_PAGED_ATTENTION(paged_attention_f32_g8, tierkv::kF32, 8, 2)
TIERKV_PAGED_ATTENTION(paged_attention_f16_g1, tierkv::kF16, 1, 4)
TIERKV_PAGED_ATTENTION(paged_attention_f16_g2, tierkv::kF16, 2, 4)
TIERKV_PAGED_ATTENTION(paged_attention_f16_g4, tierkv::kF16, 4, 3)
TIERKV_PAGED_ATTENTION(paged_attention_f16_g8, tierkv::kF16, 8, 2)
TIERKV_PAGED_ATTENTION(paged_attention_bf16_g1, tierkv::kBF16, 1, 4)
TIERKV_PAGED_ATTENTION(paged_attention_bf16_g2, tierkv::kBF16, 2, 4)
TIERKV_PAGED_ATTENTION(paged_attention_bf16_g4, tierkv::kBF16, 4, 3)
TIERKV_PAGED_ATTENTION(paged_attention_bf16_g8, tierkv::kBF16, 8, 2)

// Output for an empty list (nBlocks = 0): out = 0, lse = -inf. Grid = heads, block = 128.
extern "C" __global__ void __launch_bounds__(kThreads)
attention_empty(int headDim, float* __restrict__ out, float* __restrict__ lse) {
    const long long h = blockIdx.x;
    for (int d = threadIdx.x; d < headDim; d += kThreads) out[h * headDim + d] = 0.0f;
    if (threadIdx.x == 0) lse[h] = -INFINITY;
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

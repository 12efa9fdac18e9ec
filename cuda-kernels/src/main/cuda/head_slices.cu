// The per-head host-slice choice of a sparse host read (model's HeadSlices, select=head) on the device, so that a decode
// step chooses which KV head reads which host block without a round trip to the host:
//   head_slices  from scores [n][heads] (fp32: a digest's score, or the candidates' exact scores; +inf = must be read,
//                -inf = weighs nothing), writes headMask [n][kvHeads] (u8, 1 = that KV head reads the block) and the
//                number of slices chosen.
// The rule, exactly HeadSlices.choose: best_h = max_i score[i][h] over scores that are not NaN; a NaN value is never
// taken, except that a KV head whose every value is NaN takes block 0; a KV head's value of block i is
// (float) log(sum over its query heads of exp(score - best_h)) summed in double (the difference in float) (+inf if a score is +inf; a term is 0 where the
// score is -inf or best_h is +inf); with budget = min(cap, n * kvHeads) >= kvHeads every KV head first takes its best
// block (the lowest index among equal values), then, while taken < budget, the untaken (block, KV head) pair of the
// highest value over all heads (the lowest pair index i * kvHeads + kh among equal values) is taken unless its value is
// below logMin (log of HostRead.min; -inf: no gate). cap is min(cap, *capFrom) when capFrom is given (the second stage of
// keys=C reads at most as many slices as the first scored).
// One CTA (a decode step's choice for one layer) of any multiple of 32 threads up to 1024, sized by the host
// (CudaHeadSlices.threads): a thread per pair when the picks are made by rank (see the kernel), else a warp per 256
// pairs, each pick then a block-wide reduction; value is a scratch array of n * kvHeads floats.
//   head_slices_exact_<dtype>  the two-stage choice of keys=C in one launch: the choice over the digests' scores (cap
//                keys), the exact scores of the candidates it took, from their keys where they lie (a warp per candidate,
//                exact_keys.cuh as digest_exact computes them), and the choice over those (cap the first's count and
//                slices): the result of head_slices, digest_exact_<dtype> and head_slices launched in turn, bit for bit,
//                with two launches and two global round trips of the scores fewer per layer and step. One CTA with
//                everything in dynamic shared memory, so only for choices small enough (CudaHeadSlices.exactBytes; the
//                host launches the three kernels otherwise).

#include <cmath>

#include "dynamic_shared.cuh"
#include "exact_keys.cuh"

namespace {

constexpr int kThreads = 1024;  // the most threads a launch may have
constexpr int kWarps = kThreads / 32;
// Up to this many (block, KV head) pairs, staged, the picks after each KV head's first are made at once by rank (each
// thread counts the pairs that beat its own: O(pairs) per thread), not one block-wide argmax after another.
constexpr int kRankPairs = 1024;

// (v, c) beats (bestV, bestC): a larger value, or the same value at a lower index; NaN never beats, an empty slot
// (bestC < 0) is beaten by anything that is not NaN.
__device__ __forceinline__ bool beats(float v, int c, float bestV, int bestC) {
    if (c < 0 || v != v) return false;
    return bestC < 0 || v > bestV || (v == bestV && c < bestC);
}

// The best (value, index) of the warp's lanes, in lane 0 (every lane must call it).
__device__ __forceinline__ void warpBest(float& v, int& c) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        const float ov = __shfl_down_sync(0xffffffffu, v, o);
        const int oc = __shfl_down_sync(0xffffffffu, c, o);
        if (beats(ov, oc, v, c)) {
            v = ov;
            c = oc;
        }
    }
}

// The block-wide best (value, index) of each thread's candidate; every thread gets the winner.
__device__ void blockBest(float& v, int& c, float* warpV, int* warpC) {
    warpBest(v, c);
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    if (lane == 0) {
        warpV[warp] = v;
        warpC[warp] = c;
    }
    __syncthreads();
    if (warp == 0) {
        const int warps = (int) (blockDim.x >> 5);
        v = lane < warps ? warpV[lane] : 0.0f;
        c = lane < warps ? warpC[lane] : -1;
        warpBest(v, c);
        if (lane == 0) {
            warpV[0] = v;
            warpC[0] = c;
        }
    }
    __syncthreads();
    v = warpV[0];
    c = warpC[0];
    __syncthreads();
}

// The choice itself, by every thread of the CTA: from sc ([n][heads]) it writes val ([pairs] values) and mask ([pairs],
// whole) and returns the number chosen, at most min(cap, pairs). ranked: the picks after each KV head's first by rank,
// `pick` ([pairs] bytes) their scratch (the CTA then has a thread per pair); else one CTA-wide argmax per pick. best
// ([heads]), warpV, warpC and picked are the CTA's shared scratch. Ends at a barrier: mask is complete for every thread.
__device__ int chooseSlices(const float* sc, float* val, unsigned char* mask, unsigned char* pick, int n, int heads, int kvHeads,
                            int cap, double logMin, bool ranked, float* best, float* warpV, int* warpC, int* picked) {
    const int group = heads / kvHeads;
    const int pairs = n * kvHeads;
    // each query head's best score over the blocks
    for (int h = threadIdx.x; h < heads; h += blockDim.x) {
        float b = -INFINITY;
        for (int i = 0; i < n; i++) {
            b = fmaxf(b, sc[(long long) i * heads + h]);
        }
        best[h] = b;
    }
    __syncthreads();
    // each (block, KV head)'s value; nothing chosen yet
    for (int c = threadIdx.x; c < pairs; c += blockDim.x) {
        const int i = c / kvHeads;
        const int kh = c - i * kvHeads;
        double sum = 0.0;
        for (int h = kh * group; h < (kh + 1) * group; h++) {
            const float s = sc[(long long) i * heads + h];
            if (s == INFINITY) {
                sum += (double) INFINITY;
            } else if (best[h] != INFINITY && s != -INFINITY) {
                sum += exp((double) (s - best[h]));  // the difference in float, as Java's b - best[h]
            }
        }
        val[c] = (float) log(sum);
        mask[c] = 0;
    }
    __syncthreads();
    const int budget = min(cap, pairs);
    int count = 0;
    if (ranked) {  // the same picks by rank: no serial picks (the host gave a thread per pair)
        if (budget >= kvHeads) {  // every KV head its best block first, a warp per KV head
            const int lane = threadIdx.x & 31;
            const int warps = (int) (blockDim.x >> 5);
            for (int kh = (int) (threadIdx.x >> 5); kh < kvHeads; kh += warps) {
                float v = 0.0f;
                int c = -1;
                for (int i = lane; i < n; i += 32) {
                    const int p = i * kvHeads + kh;
                    if (beats(val[p], p, v, c)) {
                        v = val[p];
                        c = p;
                    }
                }
                warpBest(v, c);
                if (lane == 0) {
                    mask[c < 0 ? kh : c] = 1;  // every value NaN: HeadSlices takes block 0
                }
            }
            count = kvHeads;
        }
        if (threadIdx.x == 0) {
            *picked = 0;
        }
        __syncthreads();
        // then the closest to their head's best: the serial loop takes the untaken pairs in the order of beats() while
        // they are not NaN and not below logMin, so a pair is taken when fewer than `remaining` untaken pairs beat it
        // (each of which is then not below logMin either)
        const int remaining = budget - count;
        for (int p = threadIdx.x; p < pairs; p += blockDim.x) {
            const float vp = val[p];
            bool take = remaining > 0 && !mask[p] && vp == vp && !((double) vp < logMin);
            if (take) {
                int rank = 0;
                for (int q = 0; q < pairs && rank < remaining; q++) {
                    if (!mask[q] && beats(val[q], q, vp, p)) {
                        rank++;
                    }
                }
                take = rank < remaining;
            }
            pick[p] = take ? 1 : 0;
            if (take) {
                atomicAdd(picked, 1);
            }
        }
        __syncthreads();
        for (int p = threadIdx.x; p < pairs; p += blockDim.x) {
            if (pick[p]) {
                mask[p] = 1;
            }
        }
        count += *picked;
    } else if (budget >= kvHeads) {  // every KV head its best block first
        for (int kh = 0; kh < kvHeads; kh++) {
            float v = 0.0f;
            int c = -1;
            for (int i = threadIdx.x; i < n; i += blockDim.x) {
                const int p = i * kvHeads + kh;
                if (beats(val[p], p, v, c)) {
                    v = val[p];
                    c = p;
                }
            }
            blockBest(v, c, warpV, warpC);
            if (c < 0) {  // every value NaN: HeadSlices takes block 0
                c = kh;
            }
            if (threadIdx.x == 0) {
                mask[c] = 1;
            }
            count++;
            __syncthreads();
        }
    }
    for (; count < budget && !ranked; count++) {  // then the closest to their head's best, over all heads
        float v = 0.0f;
        int c = -1;
        for (int p = threadIdx.x; p < pairs; p += blockDim.x) {
            if (!mask[p] && beats(val[p], p, v, c)) {
                v = val[p];
                c = p;
            }
        }
        blockBest(v, c, warpV, warpC);
        if (c < 0 || (double) v < logMin) {
            break;
        }
        if (threadIdx.x == 0) {
            mask[c] = 1;
        }
        __syncthreads();
    }
    __syncthreads();
    return count;
}

// The choice with the second stage of keys=C in between, in one CTA (see the header): stage 1 over the digests' scores
// ([n][heads], global), cap keys; each candidate's exact scores by a warp (tierkv::exactPair, as digest_exact); stage 2
// over those, cap min(slices, stage 1's count). Everything staged in dynamic shared memory (CudaHeadSlices.exactBytes):
// the two score arrays, the values, the candidates' list, the mask and the rank picks.
template <int DT>
__device__ __forceinline__ void headSlicesExact(const float* __restrict__ scores, int n, int heads, int kvHeads, int keys, int slices,
                                                double logMin, unsigned char* __restrict__ headMask, int* __restrict__ taken,
                                                const float* __restrict__ q, const unsigned char* slab, long long slotBytes,
                                                long long keyOffset, const int* __restrict__ slots, const int* __restrict__ validRows,
                                                const unsigned char* __restrict__ rowMask, int capacity, int blockSize, int headDim,
                                                float scale) {
    __shared__ float best[kThreads];
    __shared__ float warpV[kWarps];
    __shared__ int warpC[kWarps];
    __shared__ int picked;
    __shared__ int candidates;
    TIERKV_DYNAMIC_SHARED(unsigned char, staging);
    const int pairs = n * kvHeads;
    float* sc = reinterpret_cast<float*>(staging);  // [n][heads]: the digests' scores
    float* exact = sc + (long long) n * heads;        // [n][heads]: the candidates' exact scores, -inf elsewhere
    float* val = exact + (long long) n * heads;       // [pairs]
    int* cand = reinterpret_cast<int*>(val + pairs);  // [pairs]: the first stage's pairs, in no order
    unsigned char* mask = reinterpret_cast<unsigned char*>(cand + pairs);  // [pairs]
    unsigned char* pick = mask + pairs;                                     // [pairs]
    for (int e = threadIdx.x; e < n * heads; e += blockDim.x) {
        sc[e] = scores[e];
        exact[e] = -INFINITY;
    }
    if (threadIdx.x == 0) {
        candidates = 0;
    }
    __syncthreads();
    const bool ranked = pairs <= kRankPairs;
    const int first = chooseSlices(sc, val, mask, pick, n, heads, kvHeads, keys, logMin, ranked, best, warpV, warpC, &picked);
    for (int p = threadIdx.x; p < pairs; p += blockDim.x) {
        if (mask[p]) {
            cand[atomicAdd(&candidates, 1)] = p;
        }
    }
    __syncthreads();
    const int group = heads / kvHeads;
    const int lane = threadIdx.x & 31;
    const int warps = (int) (blockDim.x >> 5);
    const long long rowBytes = (long long) kvHeads * headDim * tierkv::ElemBytes<DT>::value;
    for (int c = (int) (threadIdx.x >> 5); c < candidates; c += warps) {  // a warp per candidate
        const int p = cand[c];
        const int i = p / kvHeads;
        const int kh = p - i * kvHeads;
        const int slot = __ldg(slots + i);
        const bool slotOk = slot >= 0 && slot < capacity;
        int rows = validRows != nullptr ? __ldg(validRows + i) : blockSize;
        rows = rows < blockSize ? rows : blockSize;
        const unsigned char* k = slab + (long long) (slotOk ? slot : 0) * slotBytes + keyOffset;
        tierkv::exactPair<DT>(q, k, rowBytes, rowMask != nullptr ? rowMask + (long long) i * blockSize : nullptr, rows, kh, group,
                              headDim, scale, slotOk, lane, exact + (long long) i * heads + (long long) kh * group);
    }
    __syncthreads();
    const int second = chooseSlices(exact, val, mask, pick, n, heads, kvHeads, min(slices, first), logMin, ranked, best, warpV, warpC,
                                    &picked);
    for (int c = threadIdx.x; c < pairs; c += blockDim.x) headMask[c] = mask[c];
    if (threadIdx.x == 0) {
        taken[0] = first;
        taken[1] = second;
    }
}

}  // namespace

// scores: [n][heads] fp32; value: [n][kvHeads] fp32 scratch; headMask: [n][kvHeads] u8 (written whole); taken: one int.
// heads <= 1024 and a multiple of kvHeads; capFrom may be null. With `staged`, the launch's dynamic shared memory holds
// n * heads + n * kvHeads floats and 2 * n * kvHeads bytes (CudaHeadSlices.stagedBytes): the scores are copied in with
// one coalesced pass, and the values, the mask and the rank picks are kept there, so the picks read no global memory
// (the mask is copied out at the end); without, they are read and written where they lie (value the scratch). Staged
// with at most kRankPairs pairs, the picks are made by rank (the host then launches a thread per pair).
extern "C" __global__ void __launch_bounds__(kThreads)
head_slices(const float* __restrict__ scores, int n, int heads, int kvHeads, int cap, const int* __restrict__ capFrom,
            double logMin, float* __restrict__ value, unsigned char* __restrict__ headMask, int* __restrict__ taken, int staged) {
    __shared__ float best[kThreads];
    __shared__ float warpV[kWarps];
    __shared__ int warpC[kWarps];
    __shared__ int picked;
    TIERKV_DYNAMIC_SHARED(unsigned char, staging);
    const int pairs = n * kvHeads;
    const float* sc = scores;
    float* val = value;
    unsigned char* mask = headMask;
    unsigned char* pick = nullptr;
    if (staged) {
        float* s = reinterpret_cast<float*>(staging);
        for (int e = threadIdx.x; e < n * heads; e += blockDim.x) s[e] = scores[e];
        sc = s;
        val = s + n * heads;
        mask = reinterpret_cast<unsigned char*>(val + pairs);
        pick = mask + pairs;
        __syncthreads();
    }
    if (capFrom != nullptr) {
        cap = min(cap, *capFrom);
    }
    const int count = chooseSlices(sc, val, mask, pick, n, heads, kvHeads, cap, logMin, staged && pairs <= kRankPairs, best, warpV,
                                   warpC, &picked);
    if (staged) {
        for (int c = threadIdx.x; c < pairs; c += blockDim.x) headMask[c] = mask[c];
    }
    if (threadIdx.x == 0) {
        *taken = count;
    }
}

// head_slices_exact_<dtype>(scores, n, heads, kvHeads, keys, slices, logMin, headMask, taken, q, slab, slotBytes, keyOffset,
// slots, validRows, mask, capacity, blockSize, headDim, scale): head_slices(scores, cap keys) -> digest_exact_<dtype> over
// the mask it wrote -> head_slices(exact scores, cap slices, capFrom its count) in one launch, with the same result:
// headMask [n][kvHeads] written whole, taken[0] the first stage's count, taken[1] the second's. The keys' arguments are
// digest_exact's (the slab may be mapped pinned memory). One CTA; its threads and dynamic shared memory as the host sizes
// them (CudaHeadSlices.exactThreads, exactBytes).
#define TIERKV_HEAD_SLICES_EXACT(SUFFIX, DT)                                                                          \
    extern "C" __global__ void __launch_bounds__(kThreads) head_slices_exact_##SUFFIX(                                \
        const float* __restrict__ scores, int n, int heads, int kvHeads, int keys, int slices, double logMin,         \
        unsigned char* __restrict__ headMask, int* __restrict__ taken, const float* __restrict__ q,                   \
        const unsigned char* slab, long long slotBytes, long long keyOffset, const int* __restrict__ slots,          \
        const int* __restrict__ validRows, const unsigned char* __restrict__ mask, int capacity, int blockSize,      \
        int headDim, float scale) {                                                                                   \
        headSlicesExact<DT>(scores, n, heads, kvHeads, keys, slices, logMin, headMask, taken, q, slab, slotBytes,    \
                            keyOffset, slots, validRows, mask, capacity, blockSize, headDim, scale);                   \
    }

TIERKV_HEAD_SLICES_EXACT(f32, tierkv::kF32)
TIERKV_HEAD_SLICES_EXACT(f16, tierkv::kF16)
TIERKV_HEAD_SLICES_EXACT(bf16, tierkv::kBF16)

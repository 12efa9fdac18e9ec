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

#include <cmath>

#include "dynamic_shared.cuh"

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
    const int group = heads / kvHeads;
    const int pairs = n * kvHeads;
    const float* sc = scores;
    float* val = value;
    unsigned char* mask = headMask;
    if (staged) {
        float* s = reinterpret_cast<float*>(staging);
        for (int e = threadIdx.x; e < n * heads; e += blockDim.x) s[e] = scores[e];
        sc = s;
        val = s + n * heads;
        mask = reinterpret_cast<unsigned char*>(val + pairs);
        __syncthreads();
    }
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
    if (capFrom != nullptr) {
        cap = min(cap, *capFrom);
    }
    const int budget = min(cap, pairs);
    const bool ranked = staged && pairs <= kRankPairs;
    int count = 0;
    if (ranked) {  // the same picks by rank: no serial picks (the host gave a thread per pair)
        unsigned char* pick = mask + pairs;
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
            picked = 0;
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
                atomicAdd(&picked, 1);
            }
        }
        __syncthreads();
        for (int p = threadIdx.x; p < pairs; p += blockDim.x) {
            if (pick[p]) {
                mask[p] = 1;
            }
        }
        count += picked;
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
    if (staged) {
        __syncthreads();
        for (int c = threadIdx.x; c < pairs; c += blockDim.x) headMask[c] = mask[c];
    }
    if (threadIdx.x == 0) {
        *taken = count;
    }
}

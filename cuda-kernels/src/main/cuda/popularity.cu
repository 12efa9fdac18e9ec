// The popularity kernel: for each batch b (a layer, or a decode step), the top-k keys of the head sum
// of one query's attention probabilities, each gaining one count.
//
// Contract (identical to io.tierkv.core.popularity.PopularityCounter, so that every implementation
// selects the same set, bit for bit):
//   score[t] = ((0.0f + p[0][t]) + p[1][t]) + ... + p[H-1][t]   (IEEE round-to-nearest, no FMA, no FTZ)
//   rank by Float.compare(score) descending, then by position ascending; keep min(k, keys).
//
// Idea: a radix select on the 64-bit composite key
//   K(t) = ordered(score[t]) << 32 | (0xFFFFFFFF - t)
// where ordered() maps float bits to an unsigned int whose order is Float.compare's. Composite keys
// are unique, so "the k largest K" is exactly the Java counter's set, ties included, and no sort is
// needed: once the k-th largest K is pinned down, membership is a comparison.
//
// One launch, two phases (grid = (ceil(maxKeys / TILE), batches), block = 256):
//  1. Every CTA reads its [heads x TILE] tile of probabilities once (the only read of the input),
//     sums the heads in order, writes the 32-bit ordered score to a scratch row (4 bytes per token,
//     1/heads of the input) and adds the score's top 11 bits to the batch's global histogram
//     (warp-aggregated atomics).
//  2. The last CTA of each batch to finish (threadfence + arrival counter) finds the digit d0 that
//     holds the k-th largest score from the histogram, then makes one pass over the L2-resident
//     scores: tokens with a larger digit are selected at once; tokens with digit d0 become
//     candidates (in shared memory, or in a global spill row when too many). Further 11-bit radix
//     passes over the candidates' composite keys pin the threshold; the candidates at or above it are
//     selected. Every selected token gets counts[t] += 1 and its position appended to the output
//     (unordered; the host sorts k positions when it needs them in order).
// The scratch histogram and arrival counter are zero on entry and are left zero on exit, so a
// counter's scratch is cleared once, at allocation. One stream per scratch.
//
// Bytes moved per batch: heads*keys*4 read once, + keys*4 written and re-read from L2, + 8 KiB of
// histogram, + 4 bytes per selected token. For 32 heads that is within 7% of the input itself.

#include "block_scan.cuh"

namespace {

using tierkv::kThreads;

constexpr int kTile = 64;                 // tokens per CTA in phase 1 (two warps sum; all 256 threads load)
constexpr int kDigitBits = 11;            // radix digit width
constexpr int kBins = 1 << kDigitBits;    // 2048 bins
constexpr int kScoreShift = 32 - kDigitBits;  // first digit of the 32-bit ordered score

static_assert(kTile % 32 == 0 && kTile <= kThreads, "the summing threads must be whole warps");
static_assert(kBins % kThreads == 0, "each thread owns a whole number of bins");

// Float bits -> unsigned whose unsigned order is Float.compare's order (NaN excluded):
// negative floats flip all bits, non-negative ones set the sign bit. -0.0f ranks below +0.0f.
__device__ __forceinline__ unsigned orderedScore(float s) {
    const unsigned b = __float_as_uint(s);
    return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}

__device__ __forceinline__ unsigned long long composite(unsigned ordered, int t) {
    return ((unsigned long long) ordered << 32) | (unsigned long long) (0xFFFFFFFFu - (unsigned) t);
}

__device__ __forceinline__ int positionOf(unsigned long long key) {
    return (int) (0xFFFFFFFFu - (unsigned) (key & 0xFFFFFFFFull));
}

struct DigitChoice {
    unsigned digit;  // the bin holding the need-th largest key
    unsigned above;  // keys in higher bins
};

// Finds the bin d with above(d) < need <= above(d) + bins[d], where above(d) counts keys in bins > d.
// Thread 0 owns the top bins; an exclusive scan in thread order counts what lies above each thread.
// Requires 1 <= need <= sum(bins). numBins is a multiple of kThreads.
__device__ DigitChoice chooseDigit(const unsigned* bins, int numBins, unsigned need, unsigned* warpSums,
                                   DigitChoice* result) {
    const int per = numBins / kThreads;
    const int hi = numBins - per * threadIdx.x;  // this thread owns bins [hi - per, hi)
    unsigned local = 0;
    for (int e = hi - per; e < hi; ++e) local += bins[e];
    unsigned total;
    unsigned running = tierkv::blockExclusiveSum(local, warpSums, &total);
    for (int e = hi - 1; e >= hi - per; --e) {
        const unsigned c = bins[e];
        if (running < need && running + c >= need) {  // true for exactly one (thread, bin)
            result->digit = (unsigned) e;
            result->above = running;
        }
        running += c;
    }
    __syncthreads();
    return *result;
}

// Counts the selection of token t: one count, one output slot. The slot never reaches k when the
// selection is right; the guard keeps a wrong one from writing past the row (the host then sees a
// count other than min(k, keys) and throws).
__device__ __forceinline__ void emit(bool keep, int t, unsigned* outCount, int* out, int k, int* counts) {
    const unsigned slot = tierkv::warpAppend(keep, outCount);
    if (keep && slot < (unsigned) k) {
        out[slot] = t;
        if (counts != nullptr) atomicAdd(counts + t, 1);
    }
}

// Phase 2, run by the last CTA of batch b. Every thread of the block calls it.
__device__ void selectTopK(const unsigned* __restrict__ scores, unsigned* __restrict__ histRow, int n, int k,
                           unsigned long long* smemCandidates, int smemCapacity,
                           unsigned long long* __restrict__ spillCandidates, int* __restrict__ out,
                           int* __restrict__ outCount, int* __restrict__ counts) {
    __shared__ unsigned bins[kBins];
    __shared__ unsigned warpSums[tierkv::kWarps];
    __shared__ DigitChoice choice;
    __shared__ unsigned emitted;
    __shared__ unsigned candidateCount;

    // The histogram of the first digit, built by all CTAs; leave the global row zero for the next launch.
    for (int e = threadIdx.x; e < kBins; e += kThreads) {
        bins[e] = __ldcg(histRow + e);
        histRow[e] = 0;
    }
    if (threadIdx.x == 0) {
        emitted = 0;
        candidateCount = 0;
    }
    __syncthreads();

    const unsigned need = (unsigned) min(k, n);
    const DigitChoice first = chooseDigit(bins, kBins, need, warpSums, &choice);
    const unsigned d0 = first.digit;
    unsigned needInBin = need - first.above;
    const bool wholeBin = bins[d0] == needInBin;  // then every token of bin d0 is selected
    const bool inSmem = bins[d0] <= (unsigned) smemCapacity;
    unsigned long long* candidates = inSmem ? smemCandidates : spillCandidates;

    // One pass over the scores (L2-resident): select above the bin, collect the bin's candidates.
    // The loop bound is uniform so that whole warps call the warp-aggregated appends.
    for (int base = 0; base < n; base += kThreads) {
        const int t = base + threadIdx.x;
        const unsigned u = t < n ? __ldcg(scores + t) : 0u;
        const unsigned digit = u >> kScoreShift;
        const bool live = t < n;
        emit(live && (digit > d0 || (wholeBin && digit == d0)), t, &emitted, out, k, counts);
        if (!wholeBin) {
            const bool candidate = live && digit == d0;
            const unsigned slot = tierkv::warpAppend(candidate, &candidateCount);
            if (candidate && slot < bins[d0]) candidates[slot] = composite(u, t);  // bins[d0] counted exactly these
        }
    }
    __syncthreads();

    if (!wholeBin) {
        // Radix passes over the candidates' composite keys, below the first digit, until the bin
        // that holds the need-th largest is wholly selected. Composite keys are unique, so this ends
        // by the last bit at the latest.
        const int c = (int) candidateCount;
        unsigned long long prefix = d0;  // the chosen top `consumed` bits
        int consumed = kDigitBits;
        while (true) {
            const int bits = min(kDigitBits, 64 - consumed);
            const int shift = 64 - consumed - bits;
            const int numBins = 1 << bits;
            for (int e = threadIdx.x; e < numBins; e += kThreads) bins[e] = 0;
            __syncthreads();
            for (int i = threadIdx.x; i < c; i += kThreads) {
                const unsigned long long key = candidates[i];
                if ((key >> (64 - consumed)) == prefix) {
                    atomicAdd(&bins[(unsigned) (key >> shift) & (unsigned) (numBins - 1)], 1u);
                }
            }
            __syncthreads();
            const DigitChoice next = chooseDigit(bins, numBins, needInBin, warpSums, &choice);
            prefix = (prefix << bits) | next.digit;
            consumed += bits;
            needInBin -= next.above;
            const bool done = bins[next.digit] == needInBin;
            __syncthreads();  // everyone has read bins before the next pass clears them
            if (done) break;
        }
        // Selected candidates: those whose top `consumed` bits are at least the prefix.
        for (int base = 0; base < c; base += kThreads) {
            const int i = base + threadIdx.x;
            const bool live = i < c;
            const unsigned long long key = live ? candidates[i] : 0ull;
            const bool keep = live && (key >> (64 - consumed)) >= prefix;
            emit(keep, keep ? positionOf(key) : 0, &emitted, out, k, counts);
        }
        __syncthreads();
    }
    if (threadIdx.x == 0) *outCount = (int) emitted;  // == need; the host checks it
}

}  // namespace

// probs:       [batches][heads][stride] f32, batch b starting at probs + b * batchStride floats
// keys, keysStep: batch b reads keys + b * keysStep tokens (keysStep = 1 for consecutive decode steps of one layer)
// scratchScores: [batches][capacity] u32; scratchCandidates: [batches][capacity] u64 (spill only)
// hist:        [batches][2048] u32, zero on entry, left zero; arrivals: [batches] u32, zero on entry, left zero
// out:         [batches][k] i32 positions (unordered); outCount: [batches] i32
// counts:      nullable; batch b adds into counts + b * countsBatchStride (0: all batches share one row)
// Dynamic shared memory: max(heads * 64 * 4, candidates * 8) bytes, candidates = smemCandidates.
extern "C" __global__ void __launch_bounds__(kThreads, 4)  // 4 CTAs per SM: 40 registers, no spill on sm_90 (measured with -Xptxas -v)
popularity_topk(const float* __restrict__ probs, long long batchStride, int heads, int stride, int keys, int keysStep, int k,
                unsigned* __restrict__ scratchScores, unsigned long long* __restrict__ scratchCandidates, int capacity,
                unsigned* __restrict__ hist, unsigned* __restrict__ arrivals, int smemCandidates,
                int* __restrict__ out, int* __restrict__ outCount, int* __restrict__ counts, long long countsBatchStride) {
    extern __shared__ __align__(16) unsigned char dynamicSmem[];
    __shared__ bool lastToArrive;

    const int b = blockIdx.y;
    const int n = keys + b * keysStep;
    const float* p = probs + b * batchStride;
    unsigned* scores = scratchScores + (long long) b * capacity;
    unsigned* histRow = hist + (long long) b * kBins;
    const int t0 = blockIdx.x * kTile;

    // Phase 1: load the tile with all threads (coalesced along tokens), sum the heads in order.
    if (t0 < n) {
        float* tile = reinterpret_cast<float*>(dynamicSmem);  // [heads][kTile]
        const int width = min(kTile, n - t0);
        for (int i = threadIdx.x; i < heads * kTile; i += kThreads) {
            const int h = i / kTile;
            const int j = i % kTile;
            if (j < width) tile[i] = __ldg(p + (long long) h * stride + t0 + j);
        }
        __syncthreads();
        if (threadIdx.x < kTile) {  // whole warps
            const bool live = threadIdx.x < width;
            const unsigned mask = __ballot_sync(tierkv::kFullMask, live);
            if (live) {
                float s = 0.0f;
                for (int h = 0; h < heads; ++h) s = __fadd_rn(s, tile[h * kTile + threadIdx.x]);
                const unsigned u = orderedScore(s);
                scores[t0 + threadIdx.x] = u;
                const unsigned digit = u >> kScoreShift;
                const unsigned peers = __match_any_sync(mask, digit);
                if ((threadIdx.x & 31) == (unsigned) (__ffs(peers) - 1)) atomicAdd(histRow + digit, (unsigned) __popc(peers));
            }
        }
    }

    // Arrival: the last CTA of this batch sees every score and the whole histogram.
    __threadfence();
    __syncthreads();
    if (threadIdx.x == 0) lastToArrive = atomicAdd(arrivals + b, 1u) == gridDim.x - 1;
    __syncthreads();
    if (!lastToArrive) return;
    __threadfence();

    if (n <= 0) {
        for (int e = threadIdx.x; e < kBins; e += kThreads) histRow[e] = 0;
        if (threadIdx.x == 0) outCount[b] = 0;
    } else {
        selectTopK(scores, histRow, n, k, reinterpret_cast<unsigned long long*>(dynamicSmem), smemCandidates,
                   scratchCandidates + (long long) b * capacity, out + (long long) b * k, outCount + b,
                   counts == nullptr ? nullptr : counts + b * countsBatchStride);
    }
    if (threadIdx.x == 0) arrivals[b] = 0;
}

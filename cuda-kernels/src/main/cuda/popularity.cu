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
// Two launches on one stream, both over the whole GPU:
//  1. popularity_scores, grid = (ceil(maxKeys / 64), batches): every CTA reads its [heads x 64] tile of
//     probabilities once (the only read of the input), sums the heads in order, writes the 32-bit
//     ordered score to a scratch row (4 bytes per token, 1/heads of the input) and adds the score's top
//     11 bits to the batch's global histogram (warp-aggregated atomics).
//  2. popularity_select, grid = (ceil(maxKeys / 1024), batches): every CTA reads the complete histogram,
//     finds the digit d0 that holds the k-th largest score (the same answer in every CTA), then walks its
//     own 1024 scores from L2: larger digits are selected at once (global warp-aggregated append),
//     digit d0 goes to the batch's candidate row. The last CTA of the batch to finish (threadfence +
//     arrival counter) selects among the candidates: up to 256 of them by ranking each against the others
//     in shared memory (one pass), more by 11-bit radix passes over their composite keys (in shared memory
//     when they fit) until the threshold is pinned, then the candidates at or above it; it writes the
//     count and leaves the histogram and counters zero. Every selected token gets counts[t] += 1 and its
//     position appended to the output (unordered; the host sorts k positions when it needs them).
// Only the candidates of one bin (typically a few, at most the keys of one 11-bit digit) are left for a
// single CTA, so one query's 32k-128k keys are spread over every SM in both launches.
// The scratch histogram and counters are zero on entry and are left zero on exit, so a counter's
// scratch is cleared once, at allocation. One stream per scratch.
//
// Bytes moved per batch: heads*keys*4 read once, + keys*4 written and re-read from L2, + 8 KiB of
// histogram per select CTA (L2), + 4 bytes per selected token. For 32 heads that is within 7% of the input.

#include "block_scan.cuh"

namespace {

using tierkv::kThreads;

constexpr int kTile = 64;                 // tokens per CTA of popularity_scores (two warps sum; all 256 threads load)
constexpr int kSelectTile = 1024;         // tokens per CTA of popularity_select (4 per thread)
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
__device__ __forceinline__ void emit(bool keep, int t, unsigned* emitted, int* out, int k, int* counts) {
    const unsigned slot = tierkv::warpAppend(keep, emitted);
    if (keep && slot < (unsigned) k) {
        out[slot] = t;
        if (counts != nullptr) atomicAdd(counts + t, 1);
    }
}

// Up to this many candidates (one per thread), the last CTA selects by ranking them against each other
// instead of radix passes (each pass clears and scans 2048 bins: several barriers on one SM).
constexpr int kRankCandidates = kThreads;

// Per-batch counters of the select launch, zero between launches: [0] CTAs arrived, [1] positions
// emitted, [2] candidates collected, [3] unused.
constexpr int kCounters = 4;

// A candidate, from shared memory (staged by this CTA: a plain load) or from the global scratch list (written by
// other CTAs: read past L1). __ldcg is a global-space load: given a shared address, a GPU stops the kernel with
// CUDA_ERROR_INVALID_ADDRESS_SPACE, so the caller says which space the list is in.
__device__ __forceinline__ unsigned long long candidateAt(const unsigned long long* candidates, int i, bool inShared) {
    return inShared ? candidates[i] : __ldcg(candidates + i);
}

// The last CTA's radix passes over the candidates of bin d0 (their composite keys), then the emission
// of the candidates at or above the final prefix. Every thread of the block calls it.
__device__ void refineCandidates(const unsigned long long* candidates, bool inShared, int c, unsigned d0, unsigned needInBin,
                                 unsigned* bins, unsigned* warpSums, DigitChoice* choice, unsigned* emitted, int* out, int k,
                                 int* counts) {
    unsigned long long prefix = d0;  // the chosen top `consumed` bits
    int consumed = kDigitBits;
    while (true) {
        const int bits = min(kDigitBits, 64 - consumed);
        const int shift = 64 - consumed - bits;
        const int numBins = 1 << bits;
        for (int e = threadIdx.x; e < numBins; e += kThreads) bins[e] = 0;
        __syncthreads();
        for (int i = threadIdx.x; i < c; i += kThreads) {
            const unsigned long long key = candidateAt(candidates, i, inShared);
            if ((key >> (64 - consumed)) == prefix) {
                atomicAdd(&bins[(unsigned) (key >> shift) & (unsigned) (numBins - 1)], 1u);
            }
        }
        __syncthreads();
        const DigitChoice next = chooseDigit(bins, numBins, needInBin, warpSums, choice);
        prefix = (prefix << bits) | next.digit;
        consumed += bits;
        needInBin -= next.above;
        const bool done = bins[next.digit] == needInBin;
        __syncthreads();  // everyone has read bins before the next pass clears them
        if (done) break;
    }
    for (int base = 0; base < c; base += kThreads) {
        const int i = base + threadIdx.x;
        const bool live = i < c;
        const unsigned long long key = live ? candidateAt(candidates, i, inShared) : 0ull;
        const bool keep = live && (key >> (64 - consumed)) >= prefix;
        emit(keep, keep ? positionOf(key) : 0, emitted, out, k, counts);
    }
    __syncthreads();
}

}  // namespace

// Launch 1 of 2. probs: [batches][heads][stride] f32, batch b starting at probs + b * batchStride floats;
// batch b reads keys + b * keysStep tokens. Writes the ordered head sums to scratchScores [batches][capacity]
// and counts their first digits into hist [batches][2048] (zero on entry). Grid = (ceil(maxKeys / 64), batches),
// block = 256, dynamic shared memory heads * 64 * 4 bytes.
extern "C" __global__ void __launch_bounds__(kThreads, 4)
popularity_scores(const float* __restrict__ probs, long long batchStride, int heads, int stride, int keys, int keysStep,
                  unsigned* __restrict__ scratchScores, int capacity, unsigned* __restrict__ hist) {
    TIERKV_DYNAMIC_SHARED(unsigned char, dynamicSmem);
    const int b = blockIdx.y;
    const int n = keys + b * keysStep;
    const float* p = probs + b * batchStride;
    unsigned* scores = scratchScores + (long long) b * capacity;
    unsigned* histRow = hist + (long long) b * kBins;
    const int t0 = blockIdx.x * kTile;
    if (t0 >= n) return;  // the whole CTA
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

// Launch 2 of 2, on the same stream. Grid = (ceil(maxKeys / 1024), batches), block = 256, dynamic shared
// memory smemCandidates * 8 bytes. Every CTA finds, from the complete histogram, the bin d0 that holds the
// k-th largest score, then walks its 1024 scores: those above d0 are selected at once, those in d0 are
// appended to the batch's candidate row (scratchCandidates [batches][capacity] u64). The last CTA of the
// batch to finish (threadfence + arrival counter) narrows d0 by radix passes over the candidates (copied to
// shared memory when at most smemCandidates), selects the rest, writes outCount and leaves hist and the
// counters (counters [batches][4] u32) zero. out: [batches][k] i32 positions (unordered); outCount:
// [batches] i32; counts: nullable, batch b adds into counts + b * countsBatchStride.
extern "C" __global__ void __launch_bounds__(kThreads, 4)
popularity_select(int keys, int keysStep, int k, const unsigned* __restrict__ scratchScores,
                  unsigned long long* __restrict__ scratchCandidates, int capacity, unsigned* __restrict__ hist,
                  unsigned* __restrict__ counters, int smemCandidates, int* __restrict__ out, int* __restrict__ outCount,
                  int* __restrict__ counts, long long countsBatchStride) {
    TIERKV_DYNAMIC_SHARED(unsigned char, dynamicSmem);
    __shared__ unsigned bins[kBins];
    __shared__ unsigned warpSums[tierkv::kWarps];
    __shared__ DigitChoice choice;
    __shared__ bool lastToArrive;

    const int b = blockIdx.y;
    const int n = keys + b * keysStep;
    const unsigned* scores = scratchScores + (long long) b * capacity;
    unsigned* histRow = hist + (long long) b * kBins;
    unsigned* ctr = counters + (long long) b * kCounters;
    unsigned long long* candidates = scratchCandidates + (long long) b * capacity;
    int* outRow = out + (long long) b * k;
    int* countRow = counts == nullptr ? nullptr : counts + b * countsBatchStride;
    const int t0 = blockIdx.x * kSelectTile;

    const unsigned need = n > 0 ? (unsigned) min(k, n) : 0u;
    unsigned d0 = 0;
    unsigned needInBin = 0;
    bool wholeBin = true;
    if (need > 0) {  // uniform across the grid's CTAs of this batch
        for (int e = threadIdx.x; e < kBins; e += kThreads) bins[e] = __ldcg(histRow + e);
        __syncthreads();
        const DigitChoice first = chooseDigit(bins, kBins, need, warpSums, &choice);
        d0 = first.digit;
        needInBin = need - first.above;
        wholeBin = bins[d0] == needInBin;  // then every token of bin d0 is selected
        if (t0 < n) {
            const int end = min(n, t0 + kSelectTile);
            // Uniform loop bound: whole warps call the warp-aggregated appends.
            for (int base = t0; base < end; base += kThreads) {
                const int t = base + threadIdx.x;
                const bool live = t < end;
                const unsigned u = live ? __ldcg(scores + t) : 0u;
                const unsigned digit = u >> kScoreShift;
                emit(live && (digit > d0 || (wholeBin && digit == d0)), t, ctr + 1, outRow, k, countRow);
                if (!wholeBin) {
                    const bool candidate = live && digit == d0;
                    const unsigned slot = tierkv::warpAppend(candidate, ctr + 2);
                    if (candidate && slot < bins[d0]) candidates[slot] = composite(u, t);  // bins[d0] counted exactly these
                }
            }
        }
    }

    // Arrival: the last CTA of this batch sees every emission and every candidate.
    __threadfence();
    __syncthreads();
    if (threadIdx.x == 0) lastToArrive = atomicAdd(ctr, 1u) == gridDim.x - 1;
    __syncthreads();
    if (!lastToArrive) return;
    __threadfence();

    if (need > 0 && !wholeBin) {
        const int c = (int) min(__ldcg(ctr + 2), bins[d0]);
        __syncthreads();  // every thread has read bins[d0] before refineCandidates clears the bins
        const unsigned long long* list = candidates;
        if (c <= smemCandidates) {
            unsigned long long* local = reinterpret_cast<unsigned long long*>(dynamicSmem);
            for (int i = threadIdx.x; i < c; i += kThreads) local[i] = __ldcg(candidates + i);
            __syncthreads();
            list = local;
        }
        if (c <= kRankCandidates && c <= smemCandidates) {
            // Few candidates (the usual case for small k): one pass ranks each against all the others in shared
            // memory; composite keys are unique, so rank < needInBin selects exactly the needInBin largest.
            const bool live = (int) threadIdx.x < c;
            const unsigned long long key = live ? list[threadIdx.x] : 0ull;
            unsigned rank = 0;
            for (int j = 0; j < c; ++j) rank += list[j] > key ? 1u : 0u;
            const bool keep = live && rank < needInBin;
            emit(keep, keep ? positionOf(key) : 0, ctr + 1, outRow, k, countRow);
        } else {
            refineCandidates(list, list != candidates, c, d0, needInBin, bins, warpSums, &choice, ctr + 1, outRow, k, countRow);
        }
    }
    __syncthreads();
    for (int e = threadIdx.x; e < kBins; e += kThreads) histRow[e] = 0;
    if (threadIdx.x == 0) {
        outCount[b] = (int) __ldcg(ctr + 1);  // == need; the host checks it
        ctr[0] = 0;
        ctr[1] = 0;
        ctr[2] = 0;
    }
}

// Counts by token rather than by list position: for each of the batch's outCount[0] selected list
// positions p (from popularity_select, batch 0), the token position is
// blockFirstToken[p / blockSize] + p % blockSize; unless mask[p] != 0 (mask nullable), counts[token] += 1.
// Tokens outside [0, maxTokens) are skipped (the host checks the table). Grid = 1, block = 256.
extern "C" __global__ void __launch_bounds__(kThreads)
popularity_count_tokens(const int* __restrict__ selected, const int* __restrict__ outCount, int k,
                        const int* __restrict__ blockFirstToken, int blockSize, const unsigned char* __restrict__ mask,
                        int maxTokens, int* __restrict__ counts) {
    const int n = min(k, __ldg(outCount));
    for (int i = threadIdx.x; i < n; i += kThreads) {
        const int p = __ldg(selected + i);
        if (mask != nullptr && __ldg(mask + p) != 0) continue;
        const int token = __ldg(blockFirstToken + p / blockSize) + p % blockSize;
        if (token >= 0 && token < maxTokens) atomicAdd(counts + token, 1);
    }
}

// paged_probs.cu as host C++ (cuda_shim.h): a list of KV blocks as one part against a plain reference (one head at a time,
// d ascending, as CudaPagedProbs.reference), and against the same list cut into two parts (the first entries, then the rest
// over a copy of the slab at another address, as a tiered sequence's device and host blocks) in one launch: the
// probabilities written must be the same bits, and as many. Random cases over the three slab dtypes, grouped queries
// (groups past the kernel's 8 heads per key read too), head sizes whose keys are not 16-byte aligned (element loads),
// partial and evicted rows, head masks, slots outside the slab, block indexes out of order and past the stride. Exit 0
// when all hold.
//
//   g++ -std=c++20 -O1 -pthread -I cuda-kernels/shim/include -o cuda-kernels/shim/paged_probs_run cuda-kernels/shim/paged_probs_run.cpp
//   cuda-kernels/shim/paged_probs_run
#include <cstdio>
#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

#include "cuda_shim.h"
#include "../src/main/cuda/paged_probs.cu"

int main() {
    std::mt19937 rng(20261202);
    auto uniform = [&](float lo, float hi) { return std::uniform_real_distribution<float>(lo, hi)(rng); };
    int failures = 0, vacuous = 0;
    // heads, kvHeads, headDim, blockSize: groups 1, 4, 2, 2, 18 (three key reads of 8, 8, 2 heads), 3 with 7-wide heads
    const int shapes[][4] = {{4, 4, 16, 16}, {8, 2, 32, 16}, {6, 3, 8, 7}, {2, 1, 64, 5}, {18, 1, 8, 4}, {6, 2, 7, 5}};
    for (int c = 0; c < 36; c++) {
        const int* sh = shapes[c % 6];
        const int heads = sh[0], kvHeads = sh[1], headDim = sh[2], blockSize = sh[3], dtype = c % 3;
        const int elem = dtype == tierkv::kF32 ? 4 : 2;
        const int n = 2 + (int) (rng() % 20), capacity = n + 2, split = (int) (rng() % (n + 1));
        const long long slotBytes = 2LL * blockSize * kvHeads * headDim * elem + 16;
        const long long slabBytes = capacity * slotBytes;
        std::vector<unsigned char> slab(slabBytes), copy(slabBytes);
        for (long long i = 0; i < slabBytes / 2; i++) {
            const unsigned short bits = dtype == tierkv::kF16 ? (unsigned short) ((rng() & 0x83ffu) | 0x3800u) : (unsigned short) rng();
            memcpy(slab.data() + 2 * i, &bits, 2);
        }
        if (dtype == tierkv::kF32) {
            for (long long i = 0; i < slabBytes / 4; i++) {
                const float f = uniform(-1.5f, 1.5f);
                memcpy(slab.data() + 4 * i, &f, 4);
            }
        } else if (dtype == tierkv::kBF16) {
            for (long long i = 0; i < slabBytes / 2; i++) {
                const float f = uniform(-1.5f, 1.5f);
                const unsigned short bits = (unsigned short) (__float_as_uint(f) >> 16);
                memcpy(slab.data() + 2 * i, &bits, 2);
            }
        }
        copy = slab;
        std::vector<int> slots(n), valid(n), blocks(n);
        std::vector<unsigned char> mask((size_t) n * blockSize), headMask((size_t) n * kvHeads);
        for (int b = 0; b < n; b++) {
            slots[b] = rng() % 13 == 0 ? capacity : (int) (rng() % capacity);
            valid[b] = rng() % 4 == 0 ? (int) (rng() % (blockSize + 1)) : blockSize;
        }
        std::vector<int> order(n + 2);  // distinct blocks out of list order, as a sequence's blocks are
        for (int b = 0; b < n + 2; b++) order[b] = b;
        std::shuffle(order.begin(), order.end(), rng);
        for (int b = 0; b < n; b++) blocks[b] = order[b];
        for (auto& m : mask) m = rng() % 5 == 0;
        for (auto& m : headMask) m = rng() % 3 != 0;
        const bool masked = c % 2 == 0, headMasked = c % 3 != 2;
        std::vector<float> q((size_t) heads * headDim), lse(heads);
        for (float& x : q) x = uniform(-1, 1);
        for (float& x : lse) x = uniform(3, 4);
        const int stride = (n + 2) * blockSize - 3;
        const long long rows = (long long) n * blockSize;
        std::vector<float> one((size_t) heads * stride, -7.0f), two(one);
        const float scale = 0.3f;
        launch2((int) ((rows + 127) / 128), kvHeads, kThreads, [&] {
            paged_probs(q.data(), slab.data(), slabBytes, slotBytes, slots.data(), valid.data(), masked ? mask.data() : nullptr,
                        headMasked ? headMask.data() : nullptr, blocks.data(), n, blockSize, heads, kvHeads, headDim, dtype, scale,
                        lse.data(), one.data(), stride, nullptr, 0, nullptr, nullptr, nullptr, nullptr, nullptr, 0);
        });
        std::vector<float> want((size_t) heads * stride, -7.0f);  // the reference: each live row and head on its own
        for (int b = 0; b < n; b++) {
            if (slots[b] < 0 || (long long) (slots[b] + 1) * slotBytes > slabBytes) continue;
            for (int r = 0; r < std::min(blockSize, valid[b]); r++) {
                const long long token = (long long) blocks[b] * blockSize + r;
                if ((masked && mask[(size_t) b * blockSize + r]) || token >= stride) continue;
                for (int h = 0; h < heads; h++) {
                    const int kvh = h / (heads / kvHeads);
                    if (headMasked && headMask[(size_t) b * kvHeads + kvh] == 0) continue;
                    const unsigned char* row = slab.data() + slots[b] * slotBytes;
                    float dot = 0.0f;
                    for (int d = 0; d < headDim; d++) {
                        dot = fmaf(q[(size_t) h * headDim + d], loadKey(row, ((long long) r * kvHeads + kvh) * headDim + d, dtype), dot);
                    }
                    want[(size_t) h * stride + token] = expf(scale * dot - lse[h]);
                }
            }
        }
        launch2((int) ((rows + 127) / 128), kvHeads, kThreads, [&] {
            paged_probs(q.data(), slab.data(), slabBytes, slotBytes, slots.data(), valid.data(), masked ? mask.data() : nullptr,
                        headMasked ? headMask.data() : nullptr, blocks.data(), split, blockSize, heads, kvHeads, headDim, dtype, scale,
                        lse.data(), two.data(), stride, copy.data(), slabBytes, slots.data() + split, valid.data() + split,
                        masked ? mask.data() + (size_t) split * blockSize : nullptr,
                        headMasked ? headMask.data() + (size_t) split * kvHeads : nullptr, blocks.data() + split, n - split);
        });
        int written = 0, differ = 0, wrong = 0;
        for (size_t i = 0; i < one.size(); i++) {
            written += one[i] != -7.0f;
            differ += __float_as_uint(one[i]) != __float_as_uint(two[i]);
            wrong += __float_as_uint(one[i]) != __float_as_uint(want[i]);
        }
        printf("case %2d: dtype %d, %2d/%d heads x %2d, blocks of %2d, %2d entries cut at %2d: %5d written, %d differ from the"
               " reference, %d between one and two parts\n", c, dtype, heads, kvHeads, headDim, blockSize, n, split, written, wrong,
               differ);
        if (differ || wrong) failures++;
        vacuous += written == 0;  // every row masked or out of the slab: it can happen, but must not be the rule
    }
    if (vacuous > 4) {
        printf("%d cases wrote nothing\n", vacuous);
        failures++;
    }
    printf("%s\n", failures == 0 ? "all cases hold" : "FAILURES");
    return failures == 0 ? 0 : 1;
}

// paged_attention.cu as host C++ (cuda_shim.h), fed by PagedAttentionShimCheck.java (README.md here): the split
// flash-decoding kernel with its arrival counters, the CTAs of the (columns, splits) grid one after another.
// stdin, per case: "dtype heads kvHeads headDim blockSize capacity nBlocks live G blocksPerSplit splits scaleBits valid mask
// headMask rows firstPosition blockIndex n2" (live: the count the kernel reads through liveBlocks, or -1 to pass none;
// valid, mask, headMask, blockIndex 0 or 1: whether the array follows; rows: query rows, grid z; firstPosition: row 0's
// causal edge, or -1 for none; n2: the second part's entries, 0 for none), then the slab's capacity * 2 * blockSize *
// kvHeads * headDim elements as hex words of their bits (f32: 32 bits, f16 and bf16: 16), the n slots, then the arrays
// present (n valid rows, n * blockSize mask bytes, n * kvHeads head-mask bytes, n block indexes); with n2 > 0 the second
// part the same way: "capacity2 valid mask headMask blockIndex", its slab, its n2 slots and arrays; then rows * heads *
// headDim query floats (hex bits).
// stdout, per case: out (rows * heads * headDim floats), lse (rows * heads floats), as hex bits, then "arrivals 0" when
// every arrival counter is zero again.
#include <cstdio>
#include <cstring>
#include <vector>

#include "cuda_shim.h"
#include "shim_io.h"
#include "../src/main/cuda/paged_attention.cu"

using Kernel = void (*)(const float*, const unsigned char*, long long, long long, const int*, const int*, const unsigned char*,
                        const unsigned char*, int, int, int, int, int, int, float, int, float*, float*, float*, unsigned*, float*,
                        float*, const int*, const int*, int, Part);

static Kernel kernel(int dtype, int g) {
    static const Kernel k[3][4] = {
        {paged_attention_f32_g1, paged_attention_f32_g2, paged_attention_f32_g4, paged_attention_f32_g8},
        {paged_attention_f16_g1, paged_attention_f16_g2, paged_attention_f16_g4, paged_attention_f16_g8},
        {paged_attention_bf16_g1, paged_attention_bf16_g2, paged_attention_bf16_g4, paged_attention_bf16_g8}};
    return k[dtype][g == 1 ? 0 : g == 2 ? 1 : g == 4 ? 2 : 3];
}

int main() {
    int dtype;
    while (scanf("%d", &dtype) == 1) {
        const int heads = integer(), kvHeads = integer(), headDim = integer(), blockSize = integer(), capacity = integer();
        const int n = integer(), live = integer(), g = integer(), perSplit = integer(), splits = integer();
        const float scale = bitsFloat(hex());
        const bool hasValid = integer(), hasMask = integer(), hasHeadMask = integer();
        const int rows = integer(), firstPosition = integer();
        const bool hasBlockIndex = integer();
        const int n2 = integer();
        const int elem = dtype == tierkv::kF32 ? 4 : 2;
        const long long half = (long long) blockSize * kvHeads * headDim * elem, slotBytes = 2 * half;
        std::vector<unsigned char> slab(capacity * slotBytes + 16);
        for (long long i = 0; i < capacity * slotBytes / elem; i++) {
            unsigned w = hex();
            memcpy(slab.data() + i * elem, &w, elem);
        }
        std::vector<int> slots(n), valid(n);
        for (int& s : slots) s = integer();
        if (hasValid) for (int& v : valid) v = integer();
        std::vector<unsigned char> mask(n * blockSize), headMask(n * kvHeads);
        if (hasMask) for (auto& m : mask) m = (unsigned char) integer();
        if (hasHeadMask) for (auto& m : headMask) m = (unsigned char) integer();
        std::vector<int> blockIndex(n);
        if (hasBlockIndex) for (int& b : blockIndex) b = integer();
        Part second{nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, 0, 0};
        std::vector<unsigned char> slab2, mask2, headMask2;
        std::vector<int> slots2, valid2, blockIndex2;
        if (n2 > 0) {
            const int capacity2 = integer();
            const bool v2 = integer(), m2 = integer(), h2 = integer(), b2 = integer();
            slab2.resize(capacity2 * slotBytes + 16);
            for (long long i = 0; i < capacity2 * slotBytes / elem; i++) {
                unsigned w = hex();
                memcpy(slab2.data() + i * elem, &w, elem);
            }
            slots2.resize(n2);
            for (int& x : slots2) x = integer();
            valid2.resize(v2 ? n2 : 0);
            mask2.resize(m2 ? (size_t) n2 * blockSize : 0);
            headMask2.resize(h2 ? (size_t) n2 * kvHeads : 0);
            blockIndex2.resize(b2 ? n2 : 0);
            for (int& x : valid2) x = integer();
            for (auto& x : mask2) x = (unsigned char) integer();
            for (auto& x : headMask2) x = (unsigned char) integer();
            for (int& x : blockIndex2) x = integer();
            second = Part{slab2.data(), slots2.data(), v2 ? valid2.data() : nullptr, m2 ? mask2.data() : nullptr,
                          h2 ? headMask2.data() : nullptr, b2 ? blockIndex2.data() : nullptr, capacity2, n2};
        }
        std::vector<float> q((size_t) rows * heads * headDim);
        for (float& x : q) x = bitsFloat(hex());
        const int group = heads / kvHeads, headChunks = (group + g - 1) / g, columns = kvHeads * headChunks;
        std::vector<float> acc((size_t) rows * heads * splits * headDim, 7.0f), mx((size_t) rows * heads * splits, 7.0f), sum(mx);
        std::vector<unsigned> arrivals((size_t) rows * columns, 0u);
        std::vector<float> out((size_t) rows * heads * headDim, -7.0f), lse((size_t) rows * heads, -7.0f);
        Kernel k = kernel(dtype, g);
        launch3(columns, splits, rows, kThreads, [&] {
            k(q.data(), slab.data(), slotBytes, half, slots.data(), hasValid ? valid.data() : nullptr, hasMask ? mask.data() : nullptr,
              hasHeadMask ? headMask.data() : nullptr, capacity, n, blockSize, heads, kvHeads, headDim, scale, perSplit, acc.data(),
              mx.data(), sum.data(), arrivals.data(), out.data(), lse.data(), live >= 0 ? &live : nullptr,
              hasBlockIndex ? blockIndex.data() : nullptr, firstPosition, second);
        });
        printFloats(out);
        printFloats(lse);
        unsigned left = 0;
        for (unsigned a : arrivals) left |= a;
        printf("arrivals %u\n", left);
        fflush(stdout);
    }
    return 0;
}

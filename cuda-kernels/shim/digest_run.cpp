// digest.cu's code digests as host C++ (cuda_shim.h), fed by DigestShimCheck.java (README.md here): per case
// digest_sketch_update, digest_sketch_score over its digests and digest_exact, in the KV dtype asked for.
// stdin, per case: "dtype kvHeads headDim blockSize bits sketch heads n capacity digestCapacity blockBytes scaleBits",
// then the slab's capacity * 2 * blockSize * kvHeads * headDim elements as hex words of their bits (f32: 32 bits,
// bf16: 16), n slots, n digest indexes, heads * headDim query floats (hex bits), n valid-row counts,
// n * blockSize mask bytes and n * kvHeads head-mask bytes. stdout, per case, three lines: the digest array's bytes
// (hex, two digits each), the sketch scores and the exact scores (n * heads floats each, hex bits).
#include <cstdio>
#include <cstring>
#include <vector>

#include "cuda_shim.h"
#include "shim_io.h"
#include "../src/main/cuda/digest.cu"

int main() {
    int dtype;
    while (scanf("%d", &dtype) == 1) {
        const int kvHeads = integer(), headDim = integer(), blockSize = integer(), bits = integer(), sketch = integer();
        const int heads = integer(), n = integer(), capacity = integer(), digestCapacity = integer(), blockBytes = integer();
        const float scale = bitsFloat(hex());
        const int elem = dtype == tierkv::kF32 ? 4 : 2;
        const long long half = (long long) blockSize * kvHeads * headDim * elem, slotBytes = 2 * half;
        std::vector<unsigned char> slab(capacity * slotBytes + 16);
        unsigned char* base = slab.data();
        for (long long i = 0; i < capacity * slotBytes / elem; i++) {
            unsigned w = hex();
            memcpy(base + i * elem, &w, elem);  // little-endian: the low bytes
        }
        std::vector<int> slots(n), indexes(n), valid(n);
        for (int& s : slots) s = integer();
        for (int& s : indexes) s = integer();
        std::vector<float> q(heads * headDim);
        for (float& x : q) x = bitsFloat(hex());
        for (int& v : valid) v = integer();
        std::vector<unsigned char> mask(n * blockSize), headMask(n * kvHeads);
        for (auto& m : mask) m = (unsigned char) integer();
        for (auto& m : headMask) m = (unsigned char) integer();

        std::vector<unsigned char> digests((size_t) digestCapacity * blockBytes, 0xcd);  // poisoned: the kernel writes whole records
        launch(n, kThreads, [&] {
            if (dtype == tierkv::kF32) {
                digest_sketch_update_f32(base, slotBytes, 0, slots.data(), indexes.data(), digests.data(), blockBytes, capacity,
                                         digestCapacity, n, blockSize, kvHeads, headDim, bits, sketch);
            } else {
                digest_sketch_update_bf16(base, slotBytes, 0, slots.data(), indexes.data(), digests.data(), blockBytes, capacity,
                                          digestCapacity, n, blockSize, kvHeads, headDim, bits, sketch);
            }
        });
        std::vector<float> scores(n * heads, -1.0f), exact(n * heads, -2.0f);
        launch((n * heads + kThreads - 1) / kThreads, kThreads, [&] {
            digest_sketch_score(q.data(), digests.data(), indexes.data(), scores.data(), blockBytes, digestCapacity, n, heads, kvHeads,
                                headDim, blockSize, bits, sketch, scale);
        });
        const int exactThreads = 32 * (kvHeads < 8 ? kvHeads : 8);
        launch(n, exactThreads, [&] {
            if (dtype == tierkv::kF32) {
                digest_exact_f32(q.data(), base, slotBytes, 0, slots.data(), valid.data(), mask.data(), headMask.data(), exact.data(),
                                 capacity, n, blockSize, heads, kvHeads, headDim, scale);
            } else {
                digest_exact_bf16(q.data(), base, slotBytes, 0, slots.data(), valid.data(), mask.data(), headMask.data(), exact.data(),
                                  capacity, n, blockSize, heads, kvHeads, headDim, scale);
            }
        });
        for (size_t i = 0; i < digests.size(); i++) printf("%02x", digests[i]);
        printf("\n");
        printFloats(scores);
        printFloats(exact);
        fflush(stdout);
    }
    return 0;
}

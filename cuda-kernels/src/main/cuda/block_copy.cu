// Block gather/scatter: packs scattered fixed-size blocks of a pool into one contiguous staging
// buffer (gather), and unpacks a staging buffer into scattered blocks (scatter), so that demoting or
// promoting many small KV blocks becomes one large PCIe copy instead of many small ones.
//
// Layout: block i of the list is blocks[i]; its bytes are pool[blocks[i] * blockBytes, + blockBytes)
// and staging[i * blockBytes, + blockBytes). Grid = (count, ceil(blockBytes / 16 KiB)): CTA (i, c)
// copies chunk c of list entry i, with 16-byte vector loads when both sides and the block size are
// 16-byte aligned (cuMemAlloc gives 256-byte alignment, KV blocks are multiples of 16 bytes), bytes
// otherwise. Blocks must be distinct for scatter (the Java side checks indices, not duplicates).
// Bytes moved: 2 * count * blockBytes (read + write), + 4 * count for the indices.

#include <cstdint>
#include "block_scan.cuh"

namespace {

using tierkv::kThreads;
constexpr long long kChunk = 16 * 1024;  // bytes per CTA: 4 x 16-byte vectors per thread

__device__ __forceinline__ void copyChunk(unsigned char* __restrict__ dst, const unsigned char* __restrict__ src,
                                          long long bytes, int chunk) {
    const long long begin = (long long) chunk * kChunk;
    const long long end = min(bytes, begin + kChunk);
    const bool aligned = ((reinterpret_cast<uintptr_t>(dst) | reinterpret_cast<uintptr_t>(src) | (uintptr_t) bytes) & 15u) == 0;
    if (aligned) {
#pragma unroll 4
        for (long long i = begin + 16LL * threadIdx.x; i < end; i += 16LL * kThreads) {
            *reinterpret_cast<uint4*>(dst + i) = __ldg(reinterpret_cast<const uint4*>(src + i));
        }
    } else {
        for (long long i = begin + threadIdx.x; i < end; i += kThreads) {
            dst[i] = src[i];
        }
    }
}

}  // namespace

// pool: [poolBlocks][blockBytes] u8; staging: [count][blockBytes] u8; blocks: [count] i32 block indices.
extern "C" __global__ void __launch_bounds__(kThreads)
gather_blocks(const unsigned char* __restrict__ pool, unsigned char* __restrict__ staging, const int* __restrict__ blocks,
              int count, long long blockBytes) {
    const int i = blockIdx.x;
    if (i >= count) return;
    const long long from = (long long) __ldg(blocks + i) * blockBytes;
    copyChunk(staging + (long long) i * blockBytes, pool + from, blockBytes, blockIdx.y);
}

// staging: [count][blockBytes] u8; pool: [poolBlocks][blockBytes] u8; blocks: [count] i32, distinct.
extern "C" __global__ void __launch_bounds__(kThreads)
scatter_blocks(const unsigned char* __restrict__ staging, unsigned char* __restrict__ pool, const int* __restrict__ blocks,
               int count, long long blockBytes) {
    const int i = blockIdx.x;
    if (i >= count) return;
    const long long to = (long long) __ldg(blocks + i) * blockBytes;
    copyChunk(pool + to, staging + (long long) i * blockBytes, blockBytes, blockIdx.y);
}

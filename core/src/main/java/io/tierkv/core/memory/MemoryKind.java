package io.tierkv.core.memory;

/** The kinds of native memory TierKV allocates. */
public enum MemoryKind {
    /** CUDA device memory ({@code cuMemAlloc}). */
    DEVICE,
    /** Page-locked host memory ({@code cuMemHostAlloc}). */
    PINNED,
    /** Ordinary off-heap memory (direct buffers, the CPU mode's arenas, libtorch's CPU tensors we own). */
    OFF_HEAP
}

package io.tierkv.core;

/** Where a KV block lives: on the accelerator, in (pinned) host memory, or nowhere. */
public enum Tier {
    /** Device memory (CUDA), or the capacity-limited device arena of the CPU mode. */
    DEVICE,
    /** Pinned host memory (CUDA), or the host arena of the CPU mode. */
    HOST,
    /** Freed: the block's tokens were all evicted. */
    NONE
}

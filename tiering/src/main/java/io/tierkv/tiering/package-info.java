/**
 * Tiering: the KV cache's memory. Two arenas of fixed-size block slots (the device tier: CUDA device memory,
 * or a capacity-limited off-heap arena in the CPU mode; the host tier: pinned or off-heap memory), an
 * asynchronous copy engine between them, and the {@link io.tierkv.tiering.TierManager} that carries out a
 * policy's level transitions on them: CACHE and NORMAL blocks on the device, LOW on the host, EVICT freed,
 * under per-sequence budgets. The model reads blocks through {@link io.tierkv.tiering.LayerView}s and writes
 * new keys and values at {@link io.tierkv.tiering.Sequence#keyAddress}; traffic is reported as
 * {@link io.tierkv.tiering.TierStats}. No attention math happens here.
 */
package io.tierkv.tiering;

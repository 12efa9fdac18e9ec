/**
 * Block arenas: one slab of memory per tier, carved into fixed-size slots, with an O(1) intrusive free
 * list and int handles. A {@link io.tierkv.tiering.arena.Slab} is the memory (off-heap, CUDA device or
 * pinned host); a {@link io.tierkv.tiering.arena.SlotArena} owns one slab and hands out its slots.
 */
package io.tierkv.tiering.arena;

/**
 * Embedding TierKV in another engine: {@link io.tierkv.examples.ToyDecoder} keeps its KV cache in a
 * {@link io.tierkv.tiering.TierManager}'s blocks and attends them with
 * {@link io.tierkv.core.attention.PartialAttention}; {@link io.tierkv.examples.EmbeddingExample} runs it.
 */
package io.tierkv.examples;

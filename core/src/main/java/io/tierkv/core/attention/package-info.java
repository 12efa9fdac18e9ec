/**
 * Attention over a KV cache that lies in parts (device blocks, host blocks, one block at a time), in plain
 * Java for engines that do their own math: each part gives a partial output and its log-sum-exp, and the
 * parts merge exactly into the softmax over all of them ({@link io.tierkv.core.attention.PartialAttention}).
 */
package io.tierkv.core.attention;

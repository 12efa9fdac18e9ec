/**
 * Content keys for prompt blocks, so that blocks can be shared between sequences, processes and machines:
 * {@link io.tierkv.core.prefix.ModelFingerprint} (which model), {@link io.tierkv.core.prefix.PrefixNamespace}
 * (model plus KV layout, the chain's root) and {@link io.tierkv.core.prefix.PrefixChain} (vLLM's hash chain
 * over each full block's token ids and everything before it).
 */
package io.tierkv.core.prefix;

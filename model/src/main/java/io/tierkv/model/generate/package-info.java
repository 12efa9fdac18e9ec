/**
 * Generation with the KV manager in the loop: attention over the tiered blocks (device part and host
 * part merged exactly), the decoder that writes keys and values into the blocks and feeds the policy,
 * sampling, and the generation loop.
 */
package io.tierkv.model.generate;

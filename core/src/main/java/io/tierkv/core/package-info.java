/**
 * The policy engine of TierKV: the KV layout, the four popularity levels, transitions, and the
 * tiers they map to. Sub-packages hold popularity counting ({@code popularity}), the eviction
 * policies and their registry ({@code policy}), block bookkeeping ({@code block}) and the trace
 * format ({@code trace}).
 *
 * <p>Nothing in this module touches native memory, JCuda or libtorch: it is pure bookkeeping,
 * counts in and transitions out, so that it can be tested exactly.
 */
package io.tierkv.core;

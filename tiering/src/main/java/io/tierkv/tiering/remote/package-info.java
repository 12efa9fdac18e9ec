/**
 * The remote KV tier: full prompt blocks, named by content ({@code io.tierkv.core.prefix}), in a shared
 * Redis (standalone or Cluster) through Lettuce. {@link io.tierkv.tiering.remote.RemoteKvTier} is the entry
 * point; {@link io.tierkv.tiering.remote.BlockValueDescriptor} writes down the stored value's format.
 */
package io.tierkv.tiering.remote;

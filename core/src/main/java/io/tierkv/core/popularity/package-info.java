/**
 * Popularity counting: from one query's attention probabilities per head, the top-k keys of the
 * head sum, each gaining one count. {@link io.tierkv.core.popularity.PopularityCounter} is the
 * interface the CUDA kernel also implements; {@link io.tierkv.core.popularity.ReferencePopularityCounter}
 * is the oracle every implementation is tested against.
 */
package io.tierkv.core.popularity;

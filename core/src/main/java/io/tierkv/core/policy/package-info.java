/**
 * KV-cache eviction policies behind one small interface, {@link io.tierkv.core.policy.KvPolicy}, and
 * their explicit registry, {@link io.tierkv.core.policy.Policies}: the paper's {@code hierarchical}
 * policy and the baselines {@code full}, {@code streaming}, {@code snapkv} and {@code h2o}.
 *
 * <p>A policy sees tokens arrive and queries attend, and answers with level transitions. It never
 * touches memory: the tier manager turns transitions into copies and frees.
 */
package io.tierkv.core.policy;

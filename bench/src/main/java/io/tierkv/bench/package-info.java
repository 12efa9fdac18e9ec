/**
 * The {@code tierkv} command line ({@link io.tierkv.bench.TierKv}) and what it reports: the demo and
 * the paper's experiment, generation, training, traces, the trace-driven simulator and the
 * benchmarks.
 */
package io.tierkv.bench;

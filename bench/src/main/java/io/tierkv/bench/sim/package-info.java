/**
 * The trace-driven tier simulator: {@link io.tierkv.bench.sim.Simulator} replays a trace through one
 * {@link io.tierkv.bench.sim.SimPolicy} at one device budget, {@link io.tierkv.bench.sim.Residency}
 * carries out and counts every block move, {@link io.tierkv.bench.sim.SimPolicies} is the registry
 * (lru, s3fifo, clairvoyant, and core's hierarchical, h2o and streaming through an adapter),
 * {@link io.tierkv.bench.sim.Simulation} runs a grid of replays and {@link io.tierkv.bench.sim.SimReport}
 * writes it. The model is described in bench/README.md.
 */
package io.tierkv.bench.sim;

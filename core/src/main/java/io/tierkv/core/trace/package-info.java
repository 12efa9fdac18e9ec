/**
 * Traces of attention: per generated token and layer, the positions that made the top-k. A compact
 * versioned binary format ({@link io.tierkv.core.trace.TraceDescriptor}), a writer, a streaming reader
 * that names the byte offset of anything truncated or corrupt, and a seeded synthetic generator.
 * The simulator in {@code tierkv-bench} replays traces through cache policies.
 */
package io.tierkv.core.trace;

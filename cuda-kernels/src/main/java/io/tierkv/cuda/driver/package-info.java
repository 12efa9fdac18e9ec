/**
 * The JCuda driver layer: the backend choice ({@link io.tierkv.cuda.driver.BackendSelection}), the
 * primary context, streams, events, device and pinned buffers, checked copies and kernel modules
 * loaded from the jar. Every native resource is {@link java.lang.AutoCloseable} with an idempotent
 * {@code close()}, device and pinned memory is reported to {@link io.tierkv.core.memory.MemoryLedger},
 * and every driver result goes through {@link io.tierkv.cuda.driver.Cuda#check}.
 */
package io.tierkv.cuda.driver;

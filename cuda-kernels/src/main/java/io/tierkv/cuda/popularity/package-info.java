/**
 * The popularity counter on the GPU: {@link io.tierkv.cuda.popularity.PopularityKernel} launches the
 * one-read top-k kernel on device memory, {@link io.tierkv.cuda.popularity.CudaPopularityCounter}
 * adapts it to core's {@code PopularityCounter}, and
 * {@link io.tierkv.cuda.popularity.RadixSelectPopularityCounter} is the kernel's algorithm in Java,
 * tested against the oracle on every build.
 */
package io.tierkv.cuda.popularity;

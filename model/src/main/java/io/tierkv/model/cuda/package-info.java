/**
 * The Llama decoder on an NVIDIA GPU without libtorch: weights uploaded once from the safetensors files in their
 * checkpoint dtype, K and V in paged device blocks read in place through a block table, and every step's math on
 * cuda-kernels' ops ({@code CudaLinear}, {@code CudaDecoderOps}, {@code CudaPagedAttention}, {@code CudaDecoderStep}).
 * {@link io.tierkv.model.cuda.CudaDecoder} is the entry point; the libtorch CPU decoder is its oracle.
 */
package io.tierkv.model.cuda;
